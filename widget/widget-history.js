/*
 * Kara Support Chat widget: "Previous conversations" (handoff/desk/shopper_history.py).
 *
 * The widget keeps the resume token of every conversation this browser had
 * (localStorage, per gateway and line, the newest MAX_KEPT), learning each one
 * from the chat's `kara-chat:conversation` event. "Previous conversations"
 * under the composer lists the earlier ones (date, first line, state) from
 * `POST /api/shopper/conversations`, and opens one read-only from
 * `POST /api/shopper/transcript`: each conversation is read with its own
 * token, tokens travel in the body (never a URL), as CORS "simple" requests.
 * Also the browser id the chat's `hello` carries (`browserId`): a random key
 * kept in this browser, which lets agents see "same browser" conversations.
 * Text only, never HTML. Exposed as `window.KaraWidgetHistory`.
 */
(function (global) {
  "use strict";

  if (global.KaraWidgetHistory) return;

  var T = global.KaraText;
  var MAX_KEPT = 20; // the gateway reads at most 20 tokens at once
  var STATES = { bot: "With the assistant", waiting: "Waiting for a person", agent: "With an agent", closed: "Ended" };
  var WHO = { shopper: "You", bot: "Assistant", system: "Notice" };
  var here = (document.currentScript && new URL(".", document.currentScript.src).href) || "/widget/";

  function load(key, fallback) {
    try { return JSON.parse(global.localStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function save(key, value) {
    try { global.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }

  /** This browser's random id for the gateway at `wsBase` (null when storage is off). */
  function browserId(wsBase) {
    var key = "kara-chat-browser:v1:" + wsBase; // not "kara-chat:v1:...": that prefix is the resume token's
    var id = load(key, null);
    if (typeof id === "string" && /^[A-Za-z0-9_-]{16,64}$/.test(id)) return id;
    if (!global.crypto || !global.crypto.getRandomValues) return null;
    var bytes = new Uint8Array(16);
    global.crypto.getRandomValues(bytes);
    id = Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
    save(key, id);
    return load(key, null) === id ? id : null;
  }

  function Past(chat) { this.key = "kara-chat-past:v1:" + chat.wsBase + ":" + chat.config.line; }
  Past.prototype.all = function () { var list = load(this.key, []); return Array.isArray(list) ? list : []; };
  Past.prototype.remember = function (cid, token) {
    if (!cid || !token) return;
    var list = this.all().filter(function (p) { return p.conversation_id !== cid; });
    list.unshift({ conversation_id: cid, token: token });
    save(this.key, list.slice(0, MAX_KEPT));
  };
  /** Keep only the conversations the gateway still answers for. */
  Past.prototype.keep = function (cids) {
    save(this.key, this.all().filter(function (p) { return cids.indexOf(p.conversation_id) >= 0; }));
  };

  function post(base, path, body) {
    return fetch(base + path, { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .catch(function () { return { ok: false, body: {} }; });
  }

  function day(ts) {
    var d = new Date(ts);
    return isNaN(d.getTime()) ? "" : d.toLocaleDateString([], { day: "numeric", month: "short", year: "numeric" }) +
      ", " + T.formatClock(ts);
  }

  function el(tag, attrs, children) { return T.el(tag, attrs, children, document); }

  /** One conversation of the list: a button that opens it. */
  function item(c, current, onOpen) {
    return el("li", {}, [el("button", { type: "button", "class": "kw-hist-item", onclick: onOpen }, [
      el("span", { "class": "kw-hist-when", text: day(c.created_at) }),
      T.appendText(el("span", { "class": "kw-hist-line" }), c.first_line || "(no message)"),
      el("span", { "class": "kw-hist-state",
        text: (c.conversation_id === current ? "This conversation · " : "") + (STATES[c.state] || c.state) }),
    ])]);
  }

  /** A read-only transcript; a button's payload shows as its title, as in the chat
   * ("/request_human" -> "Talk to a person"). Classes of its own: the live chat's
   * (kw-messages, kw-from-*) stay the chat's alone. */
  function transcript(messages, starters) {
    var titles = {};
    var buttons = starters.slice();
    messages.forEach(function (m) { buttons = buttons.concat(m.buttons || []); });
    buttons.forEach(function (b) { if (b && typeof b.payload === "string") titles[b.payload] = String(b.title); });
    var ol = el("ol", { "class": "kw-hist-transcript", "aria-label": "Earlier conversation" });
    messages.forEach(function (m) {
      var who = m.sender === "agent" ? (m.agent_name || "Support agent") : WHO[m.sender] || "Notice";
      var sender = (WHO[m.sender] || m.sender === "agent") ? m.sender : "system";
      var shown = m.sender === "shopper" && Object.prototype.hasOwnProperty.call(titles, m.text) ? titles[m.text] : m.text;
      ol.appendChild(el("li", { "class": "kw-hist-msg kw-hist-" + sender }, [
        el("span", { "class": "kw-hist-who", text: who }),
        T.appendText(el("div", { "class": "kw-hist-text" }), shown),
        el("span", { "class": "kw-hist-at", text: T.formatClock(m.ts) }),
      ]));
    });
    return ol;
  }

  /** The "Previous conversations" bar and layer of one chat's widget. */
  function History(chat) {
    var self = this;
    var view = chat.view;
    this.chat = chat;
    this.view = view;
    this.base = global.KaraProtocol.httpOrigin(chat.config.gateway);
    this.past = new Past(chat);
    if (chat.session && chat.session.token) this.past.remember(chat.session.conversation_id, chat.session.token);
    this.toggle = el("button", { type: "button", "class": "kw-link-btn kw-hist-toggle", text: "Previous conversations",
      onclick: function () { self.show(true); self.list(); } });
    this.bar = el("div", { "class": "kw-hist-bar" }, [this.toggle]);
    this.title = el("h3", { "class": "kw-hist-title", tabindex: "-1", text: "Previous conversations" });
    this.back = el("button", { type: "button", "class": "kw-link-btn kw-hist-back", text: "Back to the chat" });
    this.status = el("p", { "class": "kw-hist-status", role: "status" });
    this.body = el("div", { "class": "kw-hist-body" });
    this.layer = el("section", { "class": "kw-hist", "aria-label": "Previous conversations", hidden: true },
      [el("div", { "class": "kw-hist-head" }, [this.title, this.back]), this.status, this.body]);
    this.layer.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.stopPropagation(); self.show(false); }
    });
    view.root.appendChild(el("link", { rel: "stylesheet", href: here + "widget-history.css" }));
    view.panel.insertBefore(this.layer, view.panel.children[1] || null); // under the header
    view.panel.insertBefore(this.bar, view.newChatBtn || null);
    view.historyBox = this.bar;
    document.addEventListener("kara-chat:conversation", function (e) {
      if (e.detail && e.detail.line === chat.config.line) self.past.remember(e.detail.conversation_id, e.detail.token);
      self.refreshBar();
    });
    this.refreshBar();
  }

  History.prototype.current = function () { return this.chat.session && this.chat.session.conversation_id; };

  /** Shown once this browser has a conversation besides the current one. */
  History.prototype.refreshBar = function () {
    var current = this.current();
    this.bar.hidden = !this.past.all().some(function (p) { return p.conversation_id !== current; });
  };

  History.prototype.show = function (open) {
    this.layer.hidden = !open;
    if (!open) this.body.textContent = "";
    this.view.panel.classList.toggle("kw-hist-open", open);
    if (open) this.title.focus();
    else this.toggle.focus();
  };

  History.prototype.page = function (title, back, onBack) {
    this.title.textContent = title;
    this.back.textContent = back;
    this.back.onclick = onBack;
    this.body.textContent = "";
    this.status.textContent = "Loading…";
  };

  /** This browser's conversations (the current one too, marked), newest first. */
  History.prototype.list = function () {
    var self = this;
    var mine = this.past.all();
    var current = this.current();
    this.page("Previous conversations", "Back to the chat", function () { self.show(false); });
    post(this.base, "/api/shopper/conversations", { tokens: mine.map(function (p) { return p.token; }) }).then(function (res) {
      if (!res.ok) { self.status.textContent = "Your previous conversations cannot be loaded right now."; return; }
      var found = res.body.conversations || [];
      self.past.keep(found.map(function (c) { return c.conversation_id; }).concat(current || []));
      self.status.textContent = found.length ? "" : "No earlier conversations in this browser.";
      var items = el("ul", { "class": "kw-hist-list" });
      found.forEach(function (c) {
        var token = (mine.filter(function (p) { return p.conversation_id === c.conversation_id; })[0] || {}).token;
        items.appendChild(item(c, current, function () { self.read(c, token); }));
      });
      self.body.appendChild(items);
      self.refreshBar();
    });
  };

  /** One conversation, read only, by its own token. */
  History.prototype.read = function (c, token) {
    var self = this;
    this.page("Conversation of " + day(c.created_at), "Back to the list", function () { self.list(); });
    this.title.focus();
    post(this.base, "/api/shopper/transcript", { token: token }).then(function (res) {
      if (!res.ok) { self.status.textContent = "This conversation cannot be shown right now."; return; }
      self.status.textContent = "Read only: " + (STATES[res.body.conversation.state] || "").toLowerCase() + ".";
      self.body.appendChild(transcript(res.body.messages || [], self.chat.starters()));
    });
  };

  function attach(chat) {
    if (!chat.view || !chat.view.panel || chat.view.historyBox || chat.config.line === "emergency") return null;
    return new History(chat);
  }

  document.addEventListener("kara-chat:ready", function (e) {
    var chat = global.KaraChat && global.KaraChat.find(e.detail && e.detail.line);
    if (chat) attach(chat);
  });

  global.KaraWidgetHistory = { attach: attach, browserId: browserId };
})(window);
