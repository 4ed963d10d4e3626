/*
 * Agent console: one claimed chat — its tab, transcript, composer, handoff
 * context and actions (transfer, hand back to the bot, close). It draws and
 * reports; console.js does the talking to the gateway.
 * Exposed as `window.KaraChatPane`.
 *
 * The transcript marks the bot part: everything before the agent joined sits
 * in a shaded "Before you joined" block and each assistant message carries a
 * BOT tag, so the agent sees at a glance what the assistant already said.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var el = T.el;
  var Q = global.KaraQueueView;

  var ENDED_TEXT = {
    closed: "You closed this chat. The shopper was asked for a rating.",
    handed_back: "Handed back to the assistant.",
    transferred: "Transferred: a colleague took over this chat.",
    shopper_left: "The shopper left the chat.",
    requeued: "Returned to the queue: the shopper had no answer for too long, or you were away longer than the grace period.",
    gone: "This chat is no longer yours: it went back to the queue or to a colleague while you were offline.",
  };

  var seq = 0;

  function ChatPane(chat, agentName, handlers) {
    this.id = chat.conversation_id;
    this.handoff = chat.handoff || {};
    this.agentName = agentName;
    this.handlers = handlers;
    this.unread = 0;
    this.isEnded = false;
    this.pending = []; // [{ref, text, li}] agent messages not yet echoed
    this.typingSent = 0;
    this.typingTimer = null;
    this.dom = "chat-" + (++seq);
    this._build();
    var self = this;
    (chat.transcript || []).forEach(function (m) { self._append(self.before, m); });
    this.before.hidden = this.before.children.length === 0;
    this.transcript.appendChild(el("li", { class: "c-divider", role: "separator" }, [
      el("span", { text: "You joined" + (chat.claimed_at ? " at " + T.formatClock(chat.claimed_at) : "") + " — messages below reach the shopper from you" }),
    ]));
    this._scroll(true);
  }

  ChatPane.prototype.queueLabel = function () {
    return Q.QUEUE_LABEL[this.handoff.queue] || this.handoff.queue || "Chat";
  };

  ChatPane.prototype._build = function () {
    var self = this;
    var h = this.handoff;
    var emergency = h.queue === "emergency";

    // Tab.
    this.tabBadge = el("span", { class: "c-tab-badge", hidden: true, "aria-hidden": "true" });
    this.tabTyping = el("span", { class: "c-tab-typing", hidden: true, text: "typing…" });
    this.tab = el("button", {
      type: "button",
      role: "tab",
      id: this.dom + "-tab",
      class: "c-tab" + (emergency ? " c-tab-emergency" : ""),
      "aria-selected": "false",
      "aria-controls": this.dom + "-panel",
      tabindex: "-1",
      onclick: function () { self.handlers.onSelect(self.id); },
    }, [
      el("span", { class: "c-tab-queue", text: this.queueLabel() }),
      el("span", { class: "c-tab-reason", text: T.humanize(h.reason) || "Chat" }),
      this.tabTyping,
      this.tabBadge,
    ]);

    // Transcript.
    this.before = el("ol", { class: "c-before", "aria-label": "Before you joined: the shopper and the assistant" });
    this.transcript = el("ol", { class: "c-transcript", "aria-label": "Transcript" }, [
      el("li", { class: "c-before-wrap" }, [
        el("p", { class: "c-before-title", text: "Before you joined — conversation with the assistant" }),
        this.before,
      ]),
    ]);
    this.typing = el("p", { class: "c-typing", hidden: true, text: "Shopper is typing…" });
    var jump = el("button", { type: "button", class: "c-btn c-jump", text: "New message ↓" });
    this.scroller = el("div", { class: "c-scroll" }, [this.transcript, this.typing, jump]);
    this.follower = new global.KaraScroll.Follower(this.scroller, jump, 150, function () { self.focusComposer(); });

    // Composer.
    this.input = el("textarea", {
      class: "c-input", rows: "2", maxlength: "2000",
      "aria-label": "Reply to the shopper", placeholder: "Write a reply… (Enter to send, Shift+Enter for a new line)",
    });
    this.sendBtn = el("button", { type: "submit", class: "c-btn c-btn-primary", text: "Send" });
    this.composer = el("form", { class: "c-composer" }, [this.input, this.sendBtn]);
    this.composer.addEventListener("submit", function (e) { e.preventDefault(); self._submit(); });
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); self._submit(); }
    });
    this.input.addEventListener("input", function () { self._typing(self.input.value.length > 0); });
    this.input.addEventListener("blur", function () { self._typing(false); });

    this.endedText = el("p", { text: "" });
    this.endedBar = el("div", { class: "c-ended", role: "status", hidden: true }, [
      this.endedText,
      el("button", { type: "button", class: "c-btn", text: "Dismiss", onclick: function () { self.handlers.onDismiss(self.id); } }),
    ]);

    var main = el("div", { class: "c-pane-main" }, [
      el("header", { class: "c-pane-head" }, [
        el("h2", { class: "c-pane-title", text: T.humanize(h.reason) || "Chat" }),
        el("p", { class: "c-pane-sub", text: this.queueLabel() + " queue" + (h.summary ? " · " + h.summary : "") }),
      ]),
      this.scroller,
      this.composer,
      this.endedBar,
    ]);

    // Context and actions.
    var dl = el("dl", { class: "c-dl" });
    var rows = [["Queue", this.queueLabel()], ["Reason", T.humanize(h.reason) || "—"]];
    if (h.summary) rows.push(["Summary", h.summary]);
    rows = rows.concat(Q.contextPairs(h.context));
    rows.forEach(function (r) {
      dl.appendChild(el("dt", { text: r[0] }));
      dl.appendChild(el("dd", { text: r[1] }));
    });
    this.transferSelect = el("select", { class: "c-select", "aria-label": "Transfer to queue" });
    Q.QUEUES.forEach(function (q) {
      if (q.id !== h.queue) self.transferSelect.appendChild(el("option", { value: q.id, text: q.label }));
    });
    this.actions = el("div", { class: "c-actions" }, [
      el("div", { class: "c-transfer" }, [
        this.transferSelect,
        el("button", { type: "button", class: "c-btn", text: "Transfer", onclick: function () { self.handlers.onTransfer(self.id, self.transferSelect.value); } }),
      ]),
      el("button", { type: "button", class: "c-btn", text: "Hand back to bot", onclick: function () { self.handlers.onHandback(self.id); } }),
      el("button", { type: "button", class: "c-btn c-btn-danger-outline", text: "Close chat", onclick: function () { self.handlers.onClose(self.id); } }),
    ]);
    var side = el("aside", { class: "c-context", "aria-label": "Handoff context" }, [
      el("h3", { text: "Handoff context" }),
      dl,
      el("h3", { text: "Actions" }),
      this.actions,
    ]);

    this.panel = el("section", {
      class: "c-pane" + (emergency ? " c-pane-emergency" : ""),
      role: "tabpanel",
      id: this.dom + "-panel",
      "aria-labelledby": this.dom + "-tab",
      "data-conversation": this.id,
      hidden: true,
    }, [main, side]);
  };

  // ---- messages ------------------------------------------------------------

  ChatPane.prototype.senderLabel = function (m) {
    if (m.sender === "shopper") {
      var role = this.handoff.context && this.handoff.context.role;
      return role && role !== "shopper" ? role.charAt(0).toUpperCase() + role.slice(1) : "Shopper";
    }
    if (m.sender === "bot") return "Assistant";
    if (m.sender === "agent") return m.agent_name && m.agent_name !== this.agentName ? m.agent_name : "You";
    if (m.sender === "note") return "Private note · " + (m.agent_name && m.agent_name !== this.agentName ? m.agent_name : "You");
    return "Notice";
  };

  ChatPane.prototype._append = function (list, m, extra) {
    var sender = ["shopper", "bot", "agent", "system", "note"].indexOf(m.sender) >= 0 ? m.sender : "system";
    var li;
    if (sender === "system") {
      li = el("li", { class: "c-msg c-from-system" }, [T.appendText(el("span", {}), m.text)]);
    } else {
      li = el("li", { class: "c-msg c-from-" + sender }, [
        el("div", { class: "c-msg-head" }, [
          sender === "bot" ? el("span", { class: "c-bot-tag", text: "BOT" }) : null,
          el("span", { class: "c-msg-who", text: this.senderLabel(m) }),
          el("span", { class: "c-msg-time", text: T.formatClock(m.ts) }),
        ]),
        T.appendText(el("div", { class: "c-msg-text" }), m.text),
      ]);
    }
    if (m.attachment && global.KaraConsoleAttach) global.KaraConsoleAttach.render(li, m); // console-attach.js
    if (m.id !== undefined) li.setAttribute("data-id", m.id);
    if (extra) extra(li);
    list.appendChild(li);
    return li;
  };

  ChatPane.prototype.hasMessage = function (id) {
    return id !== undefined && !!this.panel.querySelector('li[data-id="' + String(id).replace(/["\\]/g, "") + '"]');
  };

  /** A server `message` frame for this chat. Returns true when it is news for the agent. */
  ChatPane.prototype.addMessage = function (m, active) {
    if (this.hasMessage(m.id)) return false;
    if (m.sender === "agent") {
      // Our own message coming back: confirm the pending copy (by ref, else by text).
      var idx = -1;
      for (var i = 0; i < this.pending.length; i++) {
        if ((m.ref && this.pending[i].ref === m.ref) || this.pending[i].text === m.text) { idx = i; break; }
      }
      if (idx >= 0) {
        var p = this.pending.splice(idx, 1)[0];
        p.li.classList.remove("c-pending");
        if (m.id !== undefined) p.li.setAttribute("data-id", m.id);
        p.li.querySelector(".c-msg-time").textContent = T.formatClock(m.ts) || T.formatClock(new Date().toISOString());
        return false;
      }
    }
    // Measured before the message is added (see scroll.js).
    var own = m.sender === "agent" || (m.sender === "note" && m.agent_name === this.agentName);
    var follow = own || this._nearEnd();
    this._append(this.transcript, m);
    if (m.sender === "shopper") this.setTyping(false);
    this.follower.added(follow, m.sender !== "system");
    var news = !own;
    if (news && !active) { this.unread += 1; this._renderBadge(); }
    return news;
  };

  ChatPane.prototype.addPending = function (ref, text) {
    var li = this._append(this.transcript, { sender: "agent", text: text, ts: null }, function (node) {
      node.classList.add("c-pending");
      node.setAttribute("data-ref", ref);
    });
    li.querySelector(".c-msg-time").textContent = "Sending…";
    this.pending.push({ ref: ref, text: text, li: li });
    this._scroll(true);
  };

  ChatPane.prototype.failPending = function (ref, message) {
    for (var i = 0; i < this.pending.length; i++) {
      if (this.pending[i].ref === ref) {
        var p = this.pending.splice(i, 1)[0];
        p.li.classList.remove("c-pending");
        p.li.classList.add("c-failed");
        p.li.querySelector(".c-msg-time").textContent = "Not sent: " + (message || "error");
        return true;
      }
    }
    return false;
  };

  /** Every reply still waiting for its echo will not get one (the chat is gone). */
  ChatPane.prototype.failAllPending = function (message) {
    while (this.pending.length) this.failPending(this.pending[0].ref, message);
  };

  ChatPane.prototype.setTyping = function (on) {
    var follow = this._nearEnd();
    this.typing.hidden = !on;
    this.typing.textContent = this.senderLabel({ sender: "shopper" }) + " is typing…";
    this.tabTyping.hidden = !on;
    if (on) this._scroll(follow);
  };

  ChatPane.prototype.setActive = function (active) {
    this.panel.hidden = !active;
    this.tab.setAttribute("aria-selected", String(active));
    this.tab.setAttribute("tabindex", active ? "0" : "-1");
    this.tab.classList.toggle("c-tab-active", active);
    if (active) {
      this.unread = 0;
      this._renderBadge();
      this._scroll(true);
    }
  };

  ChatPane.prototype.focusComposer = function () {
    if (!this.isEnded) this.input.focus();
  };

  ChatPane.prototype.ended = function (why) {
    this.isEnded = true;
    this._typing(false);
    this.setTyping(false);
    this.composer.hidden = true;
    this.actions.querySelectorAll("button, select").forEach(function (b) { b.disabled = true; });
    this.endedText.textContent = ENDED_TEXT[why] || "This chat has ended.";
    this.endedBar.hidden = false;
    this.tab.classList.add("c-tab-ended");
  };

  ChatPane.prototype._renderBadge = function () {
    this.tabBadge.hidden = this.unread === 0;
    this.tabBadge.textContent = String(this.unread);
    this.tab.setAttribute("aria-label", this.queueLabel() + ": " + (T.humanize(this.handoff.reason) || "Chat") +
      (this.unread ? " (" + this.unread + " new)" : "") + (this.isEnded ? " (ended)" : ""));
  };

  ChatPane.prototype._submit = function () {
    var text = this.input.value.trim();
    if (!text || this.isEnded) return;
    this.input.value = "";
    this._typing(false);
    this.handlers.onSend(this.id, text);
  };

  ChatPane.prototype._typing = function (active) {
    var self = this;
    clearTimeout(this.typingTimer);
    if (active) {
      if (Date.now() - this.typingSent > 3000) {
        this.typingSent = Date.now();
        this.handlers.onTyping(this.id, true);
      }
      this.typingTimer = setTimeout(function () { self._typing(false); }, 4000);
    } else if (this.typingSent) {
      this.typingSent = 0;
      this.handlers.onTyping(this.id, false);
    }
  };

  ChatPane.prototype._nearEnd = function () { return this.follower.nearEnd(); };
  ChatPane.prototype._scroll = function (follow) { this.follower.toEnd(follow); };

  global.KaraChatPane = ChatPane;
})(window);
