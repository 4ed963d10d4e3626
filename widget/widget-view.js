/*
 * Kara Support Chat — the widget's DOM (shadow root), and nothing else.
 *
 * KaraWidgetView draws what widget-chat.js tells it to and reports what the
 * person does through `handlers`. It never talks to the network. Every piece
 * of message text goes through KaraText.appendText (text nodes only).
 *
 * Accessibility:
 *  - the launcher is a real <button> with aria-expanded / aria-controls;
 *  - the panel is a non-modal dialog; Escape minimises it and focus returns to
 *    the launcher;
 *  - new incoming messages are read out through a polite live region (the
 *    message list itself is not live, so a restored history is not re-read);
 *  - every message carries a visually hidden "<who> said" prefix.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var el = T.el;

  // Commas between numbers keep the path from looking like a phone number to the policy scan.
  var ICON_CHAT = "M4,4h16a2,2,0,0,1,2,2v10a2,2,0,0,1-2,2H9l-5,4v-4H4a2,2,0,0,1-2-2V6a2,2,0,0,1,2-2z";
  var ICON_CLOSE = "M6 6l12 12M18 6L6 18";
  var ICON_SEND = "M3 20l18-8L3 4v6l12 2-12 2z";

  function svgIcon(path, stroke) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    if (stroke) {
      p.setAttribute("fill", "none");
      p.setAttribute("stroke", "currentColor");
      p.setAttribute("stroke-width", "2.2");
      p.setAttribute("stroke-linecap", "round");
    } else {
      p.setAttribute("fill", "currentColor");
    }
    svg.appendChild(p);
    return svg;
  }

  function View(host, config, handlers) {
    this.config = config;
    this.handlers = handlers;
    this.inline = !!config.mount;
    this.unread = 0; // incoming messages the person has not seen (panel closed or page hidden)
    this.titleBase = null; // the host page's own title while ours shows the unread count
    this.queueInfo = null;
    this.offline = false;
    this.lastSender = null;
    this.composerEnabled = true;
    this._build(host);
  }

  View.prototype._build = function (host) {
    var self = this;
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    this.root = root;
    var uid = "kw-" + Math.random().toString(36).slice(2, 8);

    // Hide until the stylesheet has loaded, so the page never flashes raw markup.
    var css = el("link", { rel: "stylesheet", href: this.config.cssUrl });
    var wrap = el("div", {
      class: "kw" + (this.inline ? " kw-inline" : " kw-floating") + (this.config.line === "emergency" ? " kw-emergency" : ""),
      "data-line": this.config.line,
      style: "visibility:hidden",
    });
    css.addEventListener("load", function () { wrap.style.visibility = ""; });
    css.addEventListener("error", function () { wrap.style.visibility = ""; });
    root.appendChild(css);
    root.appendChild(wrap);
    this.wrap = wrap;

    // Launcher (floating mode only).
    this.badge = el("span", { class: "kw-badge", hidden: true, "aria-hidden": "true" });
    this.launcher = el("button", {
      type: "button",
      class: "kw-launcher",
      "aria-expanded": "false",
      "aria-controls": uid + "-panel",
      "aria-label": "Open chat: " + this.config.title,
      onclick: function () { self.isOpen() ? self.close() : self.open(true); },
    }, [svgIcon(ICON_CHAT), el("span", { class: "kw-launcher-text", text: "Chat" }), this.badge]);

    // Header.
    this.titleEl = el("h2", { class: "kw-title", id: uid + "-title", text: this.config.title });
    this.subtitleEl = el("p", { class: "kw-subtitle", text: "" });
    this.statusDot = el("span", { class: "kw-dot", "aria-hidden": "true" });
    var closeBtn = this.inline ? null : el("button", {
      type: "button",
      class: "kw-icon-btn kw-minimise",
      "aria-label": "Minimise chat",
      onclick: function () { self.close(); },
    }, [svgIcon(ICON_CLOSE, true)]);
    this.headerIcon = svgIcon(ICON_CHAT);
    this.headerInitials = el("span", { class: "kw-initials", hidden: true, text: "" });
    this.headerAvatar = el("div", { class: "kw-avatar", "aria-hidden": "true" }, [this.headerIcon, this.headerInitials]);
    var header = el("header", { class: "kw-header" }, [
      this.headerAvatar,
      el("div", { class: "kw-heading" }, [this.titleEl, el("div", { class: "kw-subline" }, [this.statusDot, this.subtitleEl])]),
      closeBtn,
    ]);

    // Banners: connection, queue, on-call paged.
    this.retryBtn = el("button", { type: "button", class: "kw-link-btn", text: "Retry now", onclick: function () { self.handlers.onReconnectNow(); } });
    this.connText = el("span", { text: "" });
    this.connBanner = el("div", { class: "kw-banner kw-banner-conn", role: "status", hidden: true }, [this.connText, " ", this.retryBtn]);
    this.queueText = el("p", { class: "kw-queue-main", text: "" });
    this.queueWait = el("p", { class: "kw-queue-wait", text: "" });
    this.queueBanner = el("div", { class: "kw-banner kw-banner-queue", role: "status", "aria-live": "polite", hidden: true }, [
      el("span", { class: "kw-spinner", "aria-hidden": "true" }),
      el("div", {}, [this.queueText, this.queueWait]),
    ]);
    this.pagedText = el("span", { text: "" });
    this.pagedBanner = el("div", { class: "kw-banner kw-banner-paged", role: "status", hidden: true }, [
      el("span", { class: "kw-paged-icon", "aria-hidden": "true", text: "!" }),
      this.pagedText,
    ]);

    // Messages.
    this.list = el("ol", { class: "kw-messages", "aria-label": "Conversation" });
    this.emptyState = el("div", { class: "kw-empty" }, [
      el("p", { class: "kw-empty-title", text: this.config.line === "emergency" ? "Connecting you to emergency triage…" : "Hi! How can we help?" }),
      el("p", { class: "kw-empty-sub", text: this.config.line === "emergency"
        ? "Stay on this page. Triage starts as soon as the line connects."
        : "Ask about an order, a refund, payments or your account. A person can take over whenever you need one." }),
    ]);
    this.typingName = el("span", { text: "" });
    this.typing = el("div", { class: "kw-typing", hidden: true }, [
      el("span", { class: "kw-typing-dots", "aria-hidden": "true" }, [el("i"), el("i"), el("i")]),
      this.typingName,
    ]);
    var jump = el("button", { type: "button", class: "kw-jump", text: "New message ↓" });
    this.scroller = el("div", { class: "kw-scroller" }, [this.emptyState, this.list, this.typing, jump]);

    this.follower = new global.KaraScroll.Follower(this.scroller, jump, 120, function () { self.input.focus(); });

    this.quick = el("div", { class: "kw-quick", role: "group", "aria-label": "Suggested replies", hidden: true });

    // Composer.
    this.input = el("textarea", {
      id: uid + "-input",
      class: "kw-input",
      rows: "1",
      maxlength: String(global.KaraProtocol.MAX_TEXT_CHARS),
      placeholder: "Type your message…",
      "aria-label": "Message",
      autocomplete: "off",
    });
    this.counter = el("span", { class: "kw-counter", "aria-live": "polite", hidden: true });
    this.sendBtn = el("button", { type: "submit", class: "kw-send", "aria-label": "Send message" }, [svgIcon(ICON_SEND)]);
    this.composer = el("form", { class: "kw-composer", novalidate: true }, [this.input, this.counter, this.sendBtn]);
    this.composer.addEventListener("submit", function (e) { e.preventDefault(); self._submit(); });
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); self._submit(); }
    });
    this.input.addEventListener("input", function () {
      self._autosize();
      self._updateCounter();
      self.handlers.onTyping(self.input.value.length > 0);
    });
    this.input.addEventListener("blur", function () { self.handlers.onTyping(false); });

    this.newChatBtn = el("button", {
      type: "button",
      class: "kw-primary kw-newchat",
      hidden: true,
      text: "Start a new conversation",
      onclick: function () { self.handlers.onNewConversation(); },
    });

    this.live = el("div", { class: "kw-sr kw-live", "aria-live": "polite", "aria-atomic": "false" });

    this.panel = el("section", {
      class: "kw-panel",
      id: uid + "-panel",
      role: this.inline ? "region" : "dialog",
      "aria-labelledby": uid + "-title",
      hidden: !this.inline,
    }, [header, this.connBanner, this.pagedBanner, this.queueBanner, this.scroller, this.quick, this.composer, this.newChatBtn, this.live]);
    this.panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !self.inline) { e.stopPropagation(); self.close(); }
    });

    if (!this.inline) wrap.appendChild(this.launcher);
    wrap.appendChild(this.panel);

    // Back on a tab whose chat is open: what arrived meanwhile has been seen.
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && self.isOpen()) self._setUnread(0);
    });
  };

  // ---- opening and closing -------------------------------------------------

  View.prototype.isOpen = function () { return this.inline || !this.panel.hidden; };

  View.prototype.open = function (focus) {
    if (!this.inline) {
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.launcher.setAttribute("aria-label", "Close chat: " + this.config.title);
      this.wrap.classList.add("kw-open");
    }
    this._setUnread(0);
    this._scrollToEnd(true);
    if (focus && this.composerEnabled) this.input.focus();
    this.handlers.onOpen();
  };

  View.prototype.close = function () {
    if (this.inline) return;
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-label", "Open chat: " + this.config.title);
    this.wrap.classList.remove("kw-open");
    this.launcher.focus();
    this.handlers.onClose();
  };

  View.prototype._setUnread = function (n) {
    this.unread = n;
    this._renderBadge();
    this._renderTitle();
  };

  /** "(2) Page title" while messages wait unseen; the page's own title back after. */
  View.prototype._renderTitle = function () {
    if (this.unread) {
      if (this.titleBase === null) this.titleBase = document.title;
      document.title = "(" + this.unread + ") " + this.titleBase;
    } else if (this.titleBase !== null) {
      document.title = this.titleBase;
      this.titleBase = null;
    }
  };

  View.prototype._renderBadge = function () {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = this.unread > 9 ? "9+" : String(this.unread);
    if (!this.inline) {
      this.launcher.setAttribute("aria-label",
        (this.isOpen() ? "Close chat: " : "Open chat: ") + this.config.title +
        (this.unread ? " (" + this.unread + " unread)" : ""));
    }
  };

  // ---- messages ------------------------------------------------------------

  View.prototype.clearMessages = function () {
    this.list.textContent = "";
    this.lastSender = null;
    this.offline = false; // its card went with the messages; the gateway says it again if still so
    this._updateEmpty();
  };

  View.prototype._updateEmpty = function () {
    // A notice about the chat (not a message of it) keeps the greeting above it.
    this.emptyState.hidden = this.list.querySelector(":scope > :not(.kw-notice)") !== null;
  };

  /** Who a message is from, in words, for the hidden prefix and the live region. */
  View.prototype.senderLabel = function (msg) {
    if (msg.sender === "shopper") return "You";
    if (msg.sender === "bot") return this.config.botName;
    if (msg.sender === "agent") return msg.agent_name || "Support agent";
    return "Notice";
  };

  /**
   * Append one message. opts: {live: announce it, pending: shown as sending,
   * display: text to show instead of msg.text (a quick reply's title),
   * notice: a system line about the chat, not one of its messages: the greeting stays}.
   */
  View.prototype.addMessage = function (msg, opts) {
    opts = opts || {};
    var sender = ["shopper", "bot", "agent", "system"].indexOf(msg.sender) >= 0 ? msg.sender : "system";
    var li;
    if (sender === "system") {
      li = el("li", { class: "kw-msg kw-from-system" + (opts.notice ? " kw-notice" : "") }, [
        el("span", { class: "kw-sr", text: "Notice: " }),
        T.appendText(el("span", { class: "kw-system" }), opts.display || msg.text),
      ]);
    } else {
      var label = this.senderLabel(msg);
      var showName = sender !== "shopper" && this.lastSender !== sender + ":" + label;
      var bubble = T.appendText(el("div", { class: "kw-bubble" }), opts.display || msg.text);
      // A person's messages carry their name and an initials avatar, once per run of messages.
      var name = !showName ? null : sender === "agent"
        ? el("span", { class: "kw-name kw-agent-name", "aria-hidden": "true" }, [
          el("span", { class: "kw-agent-avatar", text: T.initials(label) }), label])
        : el("span", { class: "kw-name", "aria-hidden": "true", text: label });
      li = el("li", { class: "kw-msg kw-from-" + sender }, [
        name,
        el("span", { class: "kw-sr", text: label + " said: " }),
        bubble,
        el("span", { class: "kw-meta", text: T.formatClock(msg.ts) }),
      ]);
      this.lastSender = sender + ":" + label;
    }
    if (msg.attachment && global.KaraWidgetAttach) global.KaraWidgetAttach.render(li, msg, this.config); // widget-attach.js
    if (msg.id) li.setAttribute("data-id", msg.id);
    if (msg.client_id) li.setAttribute("data-client-id", msg.client_id);
    if (opts.pending) this._setDelivery(li, "pending");
    if (sender === "system") this.lastSender = null;
    // Measured before the message is added (see scroll.js).
    var follow = sender === "shopper" || this._nearEnd();
    this.list.appendChild(li);
    this._updateEmpty();
    this.follower.added(follow, sender !== "system");

    if (opts.live && sender !== "shopper") {
      this.announce(this.senderLabel(msg) + ": " + (opts.display || msg.text));
      if ((sender === "agent" || sender === "bot") && (!this.isOpen() || document.hidden)) this._setUnread(this.unread + 1);
    }
    return li;
  };

  View.prototype.findByClientId = function (clientId) {
    var items = this.list.querySelectorAll("li[data-client-id]");
    for (var i = 0; i < items.length; i++) if (items[i].getAttribute("data-client-id") === clientId) return items[i];
    return null;
  };

  View.prototype.hasMessageId = function (id) {
    var items = this.list.querySelectorAll("li[data-id]");
    for (var i = 0; i < items.length; i++) if (items[i].getAttribute("data-id") === String(id)) return true;
    return false;
  };

  /** delivery: "pending" | "sent" | "failed"; onRetry given for "failed". */
  View.prototype.setDelivery = function (clientId, delivery, detail) {
    var li = this.findByClientId(clientId);
    if (li) this._setDelivery(li, delivery, detail);
  };

  /** "Seen" under the shopper's message `id` (and nowhere else): the agent has read up to it. */
  View.prototype.markSeen = function (id) {
    var items = this.list.querySelectorAll("li.kw-from-shopper[data-id]");
    for (var i = 0; i < items.length; i++) {
      var old = items[i].querySelector(".kw-seen");
      if (items[i].getAttribute("data-id") === String(id)) {
        if (!old) items[i].appendChild(el("span", { class: "kw-seen", text: "Seen" }));
      } else if (old) old.remove();
    }
  };

  View.prototype._setDelivery = function (li, delivery, detail) {
    var self = this;
    var meta = li.querySelector(".kw-meta");
    li.classList.remove("kw-pending", "kw-failed");
    var old = li.querySelector(".kw-retry");
    if (old) old.remove();
    if (delivery === "pending") {
      li.classList.add("kw-pending");
      meta.textContent = "Sending…";
    } else if (delivery === "failed") {
      li.classList.add("kw-failed");
      meta.textContent = detail || "Not sent.";
      var clientId = li.getAttribute("data-client-id");
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(el("button", {
        type: "button", class: "kw-link-btn kw-retry", text: "Retry",
        onclick: function () { self.handlers.onRetry(clientId); },
      }));
    } else {
      meta.textContent = T.formatClock(detail) || T.formatClock(new Date().toISOString());
    }
  };

  View.prototype.announce = function (text) {
    var p = el("p", { text: text });
    this.live.appendChild(p);
    while (this.live.children.length > 3) this.live.removeChild(this.live.firstChild);
  };

  // ---- quick replies, typing, composer -------------------------------------

  /** buttons: [{title, payload}] or []; starters: true for the empty-chat suggestions. */
  View.prototype.setQuickReplies = function (buttons) {
    var self = this;
    var follow = this._nearEnd();
    this.quick.textContent = "";
    (buttons || []).forEach(function (b) {
      if (!b || typeof b.title !== "string" || typeof b.payload !== "string") return;
      self.quick.appendChild(el("button", {
        type: "button",
        class: "kw-chip",
        text: b.title,
        onclick: function () { self.handlers.onQuickReply(b); },
      }));
    });
    this.quick.hidden = this.quick.children.length === 0;
    this._scrollToEnd(follow);
  };

  View.prototype.setTyping = function (on, name) {
    var follow = this._nearEnd();
    this.typing.hidden = !on;
    this.typingName.textContent = on ? (name || "Someone") + " is typing…" : "";
    if (on) this._scrollToEnd(follow);
  };

  View.prototype.setComposerEnabled = function (enabled, placeholder) {
    this.composerEnabled = enabled;
    this.input.disabled = !enabled;
    this.sendBtn.disabled = !enabled;
    this.composer.hidden = !enabled && !placeholder;
    this.input.placeholder = placeholder || "Type your message…";
  };

  View.prototype.showNewConversation = function (show) {
    this.newChatBtn.hidden = !show;
    this.composer.hidden = !!show;
  };

  View.prototype._submit = function () {
    var text = this.input.value.trim();
    if (!text || !this.composerEnabled) return;
    this.input.value = "";
    this._autosize();
    this._updateCounter();
    this.handlers.onSend(text);
    this.input.focus();
  };

  View.prototype._autosize = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight, 120) + "px";
  };

  View.prototype._updateCounter = function () {
    var max = global.KaraProtocol.MAX_TEXT_CHARS;
    var n = this.input.value.length;
    this.counter.hidden = n < max - 200;
    this.counter.textContent = n + " / " + max;
  };

  View.prototype._nearEnd = function () { return this.follower.nearEnd(); };
  View.prototype._scrollToEnd = function (follow) { this.follower.toEnd(follow); };

  // ---- header and banners ----------------------------------------------------

  View.prototype.setSubtitle = function (text, tone) {
    this.subtitleEl.textContent = text;
    this.statusDot.className = "kw-dot" + (tone ? " kw-dot-" + tone : "");
  };

  /** info = {queue, position, estimated_wait_s} or null to hide. */
  View.prototype.setQueue = function (info) {
    this.queueInfo = info;
    if (!info) { this.queueBanner.hidden = true; this.offline = false; return; }
    var pos = Number(info.position) || 0;
    var whom = this.config.line === "emergency" ? "the on-call person" : "a person";
    this.queueText.textContent = !pos ? "You're in line for " + whom + "."
      : pos === 1 ? "You're next in line for " + whom + "."
      : "You're " + T.ordinal(pos) + " in line for " + whom + ".";
    // With nobody online an estimate would contradict the "nobody is available" card below it.
    this.queueWait.textContent = this.offline
      ? "Nobody is online right now, so there is no wait estimate. You keep your place if someone comes online."
      : info.estimated_wait_s === undefined || info.estimated_wait_s === null
        ? "You can keep this page open or come back later."
        : "Estimated wait: " + T.formatWait(info.estimated_wait_s) + ". You can keep this page open or come back later.";
    this.queueBanner.hidden = false;
  };

  /** The gateway said nobody is online (until the chat leaves the queue). */
  View.prototype.setOffline = function () {
    this.offline = true;
    if (this.queueInfo) this.setQueue(this.queueInfo);
  };

  /** The person the shopper is talking to: their initials in the header (null: the assistant's icon). */
  View.prototype.setAgent = function (name) {
    this.headerInitials.textContent = name ? T.initials(name) : "";
    this.headerInitials.hidden = !name;
    this.headerIcon.style.display = name ? "none" : "";
  };

  View.prototype.setPaged = function (when) {
    var clock = T.formatClock(when || new Date().toISOString());
    this.pagedText.textContent = "The on-call person has been paged" + (clock ? " (" + clock + ")" : "") + ". Stay on this chat.";
    this.pagedBanner.hidden = false;
    this.wrap.classList.add("kw-is-paged");
  };

  /** status: "connecting" | "open" | "reconnecting" | "closed". */
  View.prototype.setConnection = function (status, info) {
    info = info || {};
    if (status === "open" || (status === "connecting")) {
      this.connBanner.hidden = status === "open" || this.list.children.length === 0;
      this.connText.textContent = "Connecting…";
      this.retryBtn.hidden = true;
      return;
    }
    this.connBanner.hidden = false;
    if (status === "reconnecting") {
      var secs = info.delayMs ? Math.max(1, Math.round(info.delayMs / 1000)) : 0;
      this.connText.textContent = secs
        ? "Connection lost. Reconnecting in " + secs + " s…"
        : "Reconnecting…";
      this.retryBtn.hidden = !secs;
    } else {
      this.connText.textContent = "Chat is offline.";
      this.retryBtn.hidden = false;
    }
  };

  // ---- cards in the message flow: rating, offline ticket ------------------

  View.prototype._card = function (className, children) {
    var li = el("li", { class: "kw-msg kw-card-item" }, [el("div", { class: "kw-card " + className }, children)]);
    this.list.appendChild(li);
    this.lastSender = null;
    this._updateEmpty();
    this._scrollToEnd(true); // a card asks the person to act: always show it
    return li;
  };

  View.prototype.showRating = function () {
    var self = this;
    if (this.list.querySelector(".kw-rating")) return;
    var score = 0;
    var stars = [];
    var heading = el("p", { class: "kw-card-title", id: "kw-rate-h-" + Date.now(), text: "How was your conversation?" });
    var group = el("div", { class: "kw-stars", role: "group", "aria-labelledby": heading.id });
    for (var i = 1; i <= 5; i++) {
      (function (n) {
        var b = el("button", {
          type: "button", class: "kw-star", "aria-pressed": "false",
          "aria-label": n + (n === 1 ? " star" : " stars") + " out of 5", text: "★",
          onclick: function () {
            score = n;
            stars.forEach(function (s, k) {
              s.setAttribute("aria-pressed", String(k + 1 === n));
              s.classList.toggle("kw-on", k < n);
            });
            submit.disabled = false;
          },
        });
        stars.push(b);
        group.appendChild(b);
      })(i);
    }
    var comment = el("textarea", { class: "kw-input kw-comment", rows: "2", maxlength: "500", "aria-label": "Comment (optional)", placeholder: "Anything to add? (optional)" });
    var submit = el("button", { type: "submit", class: "kw-primary", text: "Send rating", disabled: true });
    var form = el("form", { class: "kw-rating-form" }, [group, comment, submit]);
    var card = this._card("kw-rating", [heading, form]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!score) return;
      self.handlers.onRate(score, comment.value.trim());
      var thanks = el("p", { class: "kw-card-done", role: "status", text: "Thank you! You rated this conversation " + score + " out of 5." });
      form.replaceWith(thanks);
    });
    this.announce("How was your conversation? Rate it from 1 to 5 stars.");
    return card;
  };

  View.prototype.showOffline = function () {
    var self = this;
    if (this.list.querySelector(".kw-offline form")) return;
    var email = el("input", { type: "email", class: "kw-field", required: true, autocomplete: "email", "aria-label": "Your email address", placeholder: "Your email address" });
    var text = el("textarea", { class: "kw-input kw-comment", rows: "3", required: true, maxlength: "2000", "aria-label": "Your message", placeholder: "How can we help?" });
    var error = el("p", { class: "kw-field-error", role: "alert", hidden: true });
    var submit = el("button", { type: "submit", class: "kw-primary", text: "Leave a message" });
    var form = el("form", { class: "kw-ticket-form", novalidate: true }, [email, text, error, submit]);
    this._card("kw-offline", [
      el("p", { class: "kw-card-title", text: "Nobody is available right now" }),
      el("p", { class: "kw-card-sub", text: "Leave your email and a message and the team will reply by email." }),
      form,
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var addr = email.value.trim();
      var body = text.value.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(addr)) return self._fieldError(error, "Please enter a valid email address.", email);
      if (!body) return self._fieldError(error, "Please write a message.", text);
      error.hidden = true;
      submit.disabled = true;
      submit.textContent = "Sending…";
      self.handlers.onTicket(addr, body);
    });
    this.announce("Nobody is available right now. You can leave a message.");
    this.setOffline();
  };

  View.prototype._fieldError = function (errorEl, message, field) {
    errorEl.textContent = message;
    errorEl.hidden = false;
    if (field) field.focus();
  };

  /** A person joined after all: an unsent "leave a message" form is no longer needed. */
  View.prototype.dismissOffline = function (note) {
    var form = this.list.querySelector(".kw-ticket-form");
    if (form) form.replaceWith(el("p", { class: "kw-card-done", text: note }));
  };

  View.prototype.ticketFailed = function (message) {
    var form = this.list.querySelector(".kw-ticket-form");
    if (!form) return;
    var submit = form.querySelector("button[type=submit]");
    submit.disabled = false;
    submit.textContent = "Leave a message";
    this._fieldError(form.querySelector(".kw-field-error"), message);
  };

  /** within: the gateway's reply window from the policy (no fact is written in a page). */
  View.prototype.ticketSaved = function (ticketId, within) {
    var form = this.list.querySelector(".kw-ticket-form");
    var done = el("p", { class: "kw-card-done", role: "status",
      text: "Message received" + (ticketId ? " (reference " + ticketId + ")" : "") + ". We'll reply by email" +
        (typeof within === "string" && within ? " within " + within : "") + "." });
    if (form) form.replaceWith(done);
    else this._card("kw-offline", [done]);
  };

  global.KaraWidgetView = View;
})(window);
