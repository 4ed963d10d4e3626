/*
 * Kara Support Chat — the widget's conversation logic.
 *
 * KaraWidgetChat owns one conversation with the gateway's /ws/shopper
 * endpoint: it stores the resume token in localStorage (one per gateway URL
 * and line), turns server frames into view updates, and turns what the
 * person does into client frames. Messages are sent with a `client_id`, shown
 * at once as "Sending…", and re-sent after a reconnect until the gateway has
 * them (client_id makes that idempotent on the server).
 */
(function (global) {
  "use strict";

  var P = global.KaraProtocol;
  var TYPING_IDLE_MS = 4000; // send typing:off this long after the last keystroke
  var TYPING_REPEAT_MS = 3000; // at most one typing:on per this interval
  var TYPING_STALE_MS = 20000; // hide a typing indicator nobody turned off
  var RATE_LIMIT_RETRIES = 3;

  // Suggested first messages on the empty chat, per role: the same choices as the
  // assistant's greeting (domain.yml utter_greet; tests/widget keep them equal).
  var STARTERS = {
    shopper: [
      { title: "Track an order", payload: "/track_order" },
      { title: "Refund or return", payload: "/request_refund" },
      { title: "Contact details", payload: "/ask_contact_channels" },
      { title: "Talk to a person", payload: "/request_human" },
    ],
    vendor: [
      { title: "Payments & commission", payload: "/ask_payments" },
      { title: "Listings & inventory", payload: "/ask_listing_inventory" },
      { title: "Escalate a dispute", payload: "/ask_dispute_process" },
      { title: "Talk to a person", payload: "/request_human" },
    ],
    provider: [
      { title: "Urgent: critical issue now", payload: "/provider_emergency" },
      { title: "Appointments", payload: "/ask_appointments" },
      { title: "Payments & revenue", payload: "/ask_payments" },
      { title: "Talk to a person", payload: "/request_human" },
    ],
  };

  // ---- resume token storage ------------------------------------------------

  function Store(key) { this.key = key; }
  Store.prototype.load = function () {
    try { return JSON.parse(global.localStorage.getItem(this.key)) || {}; } catch (e) { return {}; }
  };
  Store.prototype.save = function (data) {
    try { global.localStorage.setItem(this.key, JSON.stringify(data)); } catch (e) { /* private mode */ }
  };
  Store.prototype.clear = function () {
    try { global.localStorage.removeItem(this.key); } catch (e) { /* private mode */ }
  };

  function sessionFlag(key, value) {
    try {
      if (value === undefined) return global.sessionStorage.getItem(key) === "1";
      global.sessionStorage.setItem(key, value ? "1" : "0");
    } catch (e) { return false; }
    return value;
  }

  // ---- the conversation ----------------------------------------------------

  function Chat(host, config) {
    var self = this;
    this.config = config;
    this.wsBase = P.websocketOrigin(config.gateway);
    this.store = new Store("kara-chat:v1:" + this.wsBase + ":" + config.line);
    this.openKey = "kara-chat:open:" + this.wsBase + ":" + config.line;
    this.session = this.store.load(); // {token, conversation_id, paged_at}
    this.state = null;
    this.agentName = null;
    this.pending = {}; // client_id -> {frame, display, retries}
    // button payload -> title, to show "/request_human" as its button title. The
    // emergency line's opening message is sent by the gateway, not typed.
    this.titles = config.line === "emergency" ? { "/provider_emergency": "Emergency triage requested" } : {};
    this.ticketRef = null;
    // Why the stored conversation was dropped: shown atop the new conversation, and kept
    // there when its welcome redraws the transcript (which would otherwise erase it at once).
    this.notice = null; // {text, conversation_id}
    this.conn = null;
    this.typingSent = 0;
    this.typingTimer = null;
    this.typingStaleTimer = null;

    this.view = new global.KaraWidgetView(host, config, {
      onOpen: function () { sessionFlag(self.openKey, true); self.connect(); },
      onClose: function () { sessionFlag(self.openKey, false); },
      onSend: function (text) { self.sendText(text, null); },
      onQuickReply: function (button) { self.titles[button.payload] = button.title; self.sendText(button.payload, button.title); },
      onRetry: function (clientId) { self.retry(clientId); },
      onTyping: function (active) { self.typingInput(active); },
      onRate: function (score, comment) { self.rate(score, comment); },
      onTicket: function (email, text) { self.leaveTicket(email, text); },
      onNewConversation: function () { self.newConversation(); },
      onReconnectNow: function () { if (self.conn) self.conn.reconnectNow(); else self.connect(); },
    });
  }

  /** The opening screen's quick replies (none on the emergency line: its triage starts by itself). */
  Chat.prototype.starters = function () {
    return this.config.line === "emergency" ? [] : STARTERS[this.config.role] || STARTERS.shopper;
  };

  Chat.prototype.start = function () {
    this.setState("bot", null);
    if (!this.session.token) this.view.setQuickReplies(this.starters());
    if (this.session.paged_at) {
      this.view.setPaged(this.session.paged_at);
      this.emit("paged", { ts: this.session.paged_at });
    }
    // The emergency line and inline chats start at once; a floating widget
    // connects when opened, or straight away when it has a conversation to resume.
    if (this.view.inline || this.config.open || sessionFlag(this.openKey)) this.view.open(false);
    if (this.session.token || this.view.inline) this.connect();
  };

  Chat.prototype.open = function () { this.view.open(true); };
  Chat.prototype.close = function () { this.view.close(); };

  Chat.prototype.connect = function () {
    var self = this;
    if (this.conn) return;
    this.conn = new P.Connection({
      url: this.wsBase + "/ws/shopper",
      hello: function () {
        var frame = { type: "hello", v: P.VERSION, role: self.config.role, line: self.config.line };
        if (self.session.token) frame.token = self.session.token;
        var browser = global.KaraWidgetHistory && global.KaraWidgetHistory.browserId(self.wsBase);
        if (browser) frame.browser = browser; // agents see this browser's other conversations
        return frame;
      },
      onFrame: function (frame) { self.handle(frame); },
      onStatus: function (status, info) { self.view.setConnection(status, info); },
      onUnauthorized: function () {
        // The stored token is forged, expired or from another gateway: start afresh.
        if (!self.session.token) return false;
        self.forget("Your previous conversation could not be resumed, so a new one has started.");
        return true;
      },
    });
    this.conn.start();
  };

  /** Drop the stored conversation (keeps the socket object; the next hello has no token). */
  Chat.prototype.forget = function (notice) {
    this.session = {};
    this.store.clear();
    this.pending = {};
    this.view.clearMessages();
    this.view.setQueue(null);
    this.notice = notice ? { text: notice, conversation_id: null } : null;
    if (notice) this.view.addMessage({ sender: "system", text: notice }, { notice: true });
  };

  Chat.prototype.newConversation = function () {
    if (this.conn) { this.conn.stop(); this.conn = null; }
    this.forget(null);
    this.view.pagedBanner.hidden = true;
    this.view.showNewConversation(false);
    this.setState("bot", null);
    this.view.setQuickReplies(this.starters());
    this.connect();
    this.view.input.focus();
  };

  // ---- server frames ---------------------------------------------------------

  Chat.prototype.handle = function (frame) {
    switch (frame.type) {
      case "welcome": return this.onWelcome(frame);
      case "message": return this.onMessage(frame, true);
      case "typing": return this.onTyping(frame);
      case "queue": this.state = "waiting"; return this.view.setQueue(frame);
      case "state": return this.setState(frame.state, frame.agent && frame.agent.name);
      case "agent_joined":
        this.agentName = (frame.agent && frame.agent.name) || this.agentName;
        this.view.setQueue(null);
        this.view.dismissOffline("Someone is here now, so there is no need to leave a message.");
        // The "<name> joined the chat." line is the gateway's stored system message.
        return this.setState("agent", this.agentName);
      case "rating_request": return this.view.showRating();
      case "offline": return this.view.showOffline();
      case "ticket_saved": return this.view.ticketSaved(frame.ticket_id, frame.reply_within);
      case "paged":
        this.session.paged_at = frame.ts || new Date().toISOString();
        this.store.save(this.session);
        this.view.setPaged(this.session.paged_at);
        this.emit("paged", { ts: this.session.paged_at });
        return this.view.announce("The on-call person has been paged.");
      case "error": return this.onError(frame);
      case "seen": return this.view.markSeen(frame.up_to); // the agent read up to there
      default: return undefined; // a newer gateway's frame: ignore
    }
  };

  Chat.prototype.onWelcome = function (frame) {
    var self = this;
    var resumed = this.session.conversation_id === frame.conversation_id;
    if (!resumed) this.session = {};
    this.session.token = frame.token;
    this.session.conversation_id = frame.conversation_id;
    this.store.save(this.session);
    this.emit("conversation", { conversation_id: frame.conversation_id, token: frame.token }); // widget-history.js

    // Redraw the transcript from the server's history: the source of truth.
    this.view.clearMessages();
    if (this.notice && this.notice.conversation_id === null) this.notice.conversation_id = frame.conversation_id;
    if (this.notice && this.notice.conversation_id === frame.conversation_id) {
      this.view.addMessage({ sender: "system", text: this.notice.text }, { notice: true });
    }
    var history = Array.isArray(frame.history) ? frame.history : [];
    var seen = {};
    history.forEach(function (m) {
      self.rememberButtons(m);
      if (m.client_id) seen[m.client_id] = true;
      self.view.addMessage(m, { display: self.displayText(m) });
    });
    var last = history[history.length - 1];
    this.view.setQuickReplies(!history.length && frame.state === "bot" && !Object.keys(this.pending).length ? this.starters()
      : last && last.sender === "bot" && frame.state === "bot" ? last.buttons : []);

    // Messages typed while offline (or lost with the last socket): show and re-send.
    this.conn.dropQueued(function (f) { return f.type === "message"; });
    Object.keys(this.pending).forEach(function (cid) {
      if (seen[cid]) { delete self.pending[cid]; return; }
      var p = self.pending[cid];
      self.view.addMessage({ sender: "shopper", text: p.frame.text, client_id: cid }, { pending: true, display: p.display });
      self.conn.send(p.frame);
    });

    this.agentName = (frame.agent && frame.agent.name) || null;
    this.setState(frame.state, this.agentName);
    if (frame.state === "waiting") this.view.setQueue(typeof frame.queue === "object" && frame.queue ? frame.queue : {});
  };

  Chat.prototype.onMessage = function (m, live) {
    if (m.id !== undefined && this.view.hasMessageId(m.id)) return; // a duplicate
    this.rememberButtons(m);
    if (m.sender === "shopper" && m.client_id) {
      var li = this.view.findByClientId(m.client_id);
      if (li) {
        delete this.pending[m.client_id];
        if (m.id !== undefined) li.setAttribute("data-id", m.id);
        this.view.setDelivery(m.client_id, "sent", m.ts);
        return;
      }
    }
    if (m.sender !== "shopper") {
      // The gateway answers in order, so anything it says confirms what we sent before.
      this.confirmPending();
      this.view.setTyping(false);
    }
    if (m.sender === "agent" && m.agent_name) this.agentName = m.agent_name;
    this.view.addMessage(m, { live: live, display: this.displayText(m) });
    if (m.sender === "bot" || m.sender === "agent") this.view.setQuickReplies(m.buttons || []);
  };

  Chat.prototype.confirmPending = function () {
    var self = this;
    Object.keys(this.pending).forEach(function (cid) {
      if (self.conn && self.conn.outbox.some(function (f) { return f.client_id === cid; })) return;
      delete self.pending[cid];
      self.view.setDelivery(cid, "sent");
    });
  };

  Chat.prototype.onTyping = function (frame) {
    var self = this;
    var name = frame.who === "agent" ? (frame.name || this.agentName || "Support agent") : this.config.botName;
    this.view.setTyping(!!frame.on, name);
    clearTimeout(this.typingStaleTimer);
    if (frame.on) this.typingStaleTimer = setTimeout(function () { self.view.setTyping(false); }, TYPING_STALE_MS);
  };

  Chat.prototype.onError = function (frame) {
    var self = this;
    var pendingId = this.pendingByRef(frame.ref);
    if (frame.ref && frame.ref === this.ticketRef) {
      return this.view.ticketFailed(frame.message || "That could not be sent. Please check and try again.");
    }
    if (pendingId) {
      var p = this.pending[pendingId];
      if (frame.code === "rate_limited" && p.retries < RATE_LIMIT_RETRIES) {
        p.retries += 1;
        setTimeout(function () { if (self.pending[pendingId]) self.conn.send(p.frame); }, Number(frame.retry_after_ms) || 1000);
        return;
      }
      if (frame.code === "unavailable") {
        // Stored, but the assistant did not answer: say so, keep the message.
        delete this.pending[pendingId];
        this.view.setDelivery(pendingId, "sent");
        return this.view.addMessage({ sender: "system", text: frame.message || "The assistant is not answering right now." }, { live: true });
      }
      if (frame.code === "not_ready") return; // re-sent after the next welcome
      return this.view.setDelivery(pendingId, "failed", frame.message || "Not sent.");
    }
    if (frame.code === "not_found" && this.session.token) {
      return this.forget("Your previous conversation could not be found, so a new one has started.");
    }
    if (frame.code === "unavailable") {
      this.view.addMessage({ sender: "system", text: frame.message || "The assistant is not answering right now." }, { live: true });
    }
    if (global.console) console.warn("Kara chat:", frame.code, frame.message);
  };

  Chat.prototype.pendingByRef = function (ref) {
    if (!ref) return null;
    var ids = Object.keys(this.pending);
    for (var i = 0; i < ids.length; i++) if (this.pending[ids[i]].frame.ref === ref) return ids[i];
    return null;
  };

  // ---- state ---------------------------------------------------------------

  Chat.prototype.setState = function (state, agentName) {
    var emergency = this.config.line === "emergency";
    this.state = state;
    if (agentName) this.agentName = agentName;
    if (state !== "agent") this.view.setAgent(null);
    this.view.showNewConversation(state === "closed");
    if (state === "waiting") {
      this.view.setSubtitle(emergency ? "Waiting for the on-call person" : "Waiting for a person", "wait");
    } else if (state === "agent") {
      this.view.setQueue(null);
      this.view.setAgent(this.agentName || "Support agent");
      this.view.setSubtitle("Chatting with " + (this.agentName || "a support agent"), "live");
    } else if (state === "closed") {
      this.view.setQueue(null);
      this.view.setQuickReplies([]);
      this.view.setTyping(false);
      this.view.setSubtitle("Conversation ended", "off");
    } else {
      this.view.setQueue(null);
      this.view.setSubtitle(emergency ? "Emergency triage" : this.config.botName + " · replies instantly", "bot");
    }
    this.emit("state", { state: state, agent: this.agentName });
  };

  /** Tell the host page (e.g. the emergency page's notice): `kara-chat:<name>` on document. */
  Chat.prototype.emit = function (name, detail) {
    detail.line = this.config.line;
    document.dispatchEvent(new CustomEvent("kara-chat:" + name, { detail: detail }));
  };

  // ---- what the person does ------------------------------------------------

  /** text goes to the gateway; display (a button title) is what the bubble shows. */
  Chat.prototype.sendText = function (text, display) {
    var clientId = P.uid("c-").slice(0, 40);
    var frame = { type: "message", text: text, client_id: clientId };
    this.connect();
    this.view.setQuickReplies([]);
    this.stopTyping();
    this.view.addMessage({ sender: "shopper", text: text, client_id: clientId, ts: new Date().toISOString() },
      { pending: true, display: display });
    if (P.byteLength(JSON.stringify(frame)) > P.MAX_FRAME_BYTES - 128) {
      return this.view.setDelivery(clientId, "failed", "Too long to send. Please shorten it or split it in two.");
    }
    this.pending[clientId] = { frame: frame, display: display, retries: 0 };
    // Its first sending says so (the gateway then asks the assistant without looking for an
    // earlier attempt); every resend is the pending frame, which never does. One ref for both.
    frame.ref = this.conn.send({ type: "message", text: text, client_id: clientId, first: true });
  };

  Chat.prototype.retry = function (clientId) {
    var li = this.view.findByClientId(clientId);
    var p = this.pending[clientId];
    if (!p) return; // too long to ever send: the person edits and sends again
    p.retries = 0;
    if (li) this.view.setDelivery(clientId, "pending");
    this.conn.send(p.frame);
  };

  Chat.prototype.typingInput = function (active) {
    var self = this;
    if (!this.conn || !this.conn.ready) return;
    if (this.state !== "agent" && this.state !== "waiting") return; // the bot does not care
    clearTimeout(this.typingTimer);
    if (!active) return this.stopTyping();
    var now = Date.now();
    if (now - this.typingSent > TYPING_REPEAT_MS) {
      this.typingSent = now;
      this.conn.send({ type: "typing", on: true }, { queue: false });
    }
    this.typingTimer = setTimeout(function () { self.stopTyping(); }, TYPING_IDLE_MS);
  };

  Chat.prototype.stopTyping = function () {
    clearTimeout(this.typingTimer);
    if (!this.typingSent) return;
    this.typingSent = 0;
    if (this.conn && this.conn.ready) this.conn.send({ type: "typing", on: false }, { queue: false });
  };

  Chat.prototype.rate = function (score, comment) {
    var frame = { type: "rating", score: score };
    if (comment) frame.comment = comment;
    this.conn.send(frame);
  };

  Chat.prototype.leaveTicket = function (email, text) {
    this.ticketRef = this.conn.send({ type: "ticket", email: email, text: text });
  };

  // ---- helpers ---------------------------------------------------------------

  Chat.prototype.rememberButtons = function (m) {
    var self = this;
    (m.buttons || []).forEach(function (b) {
      if (b && typeof b.payload === "string" && typeof b.title === "string") self.titles[b.payload] = b.title;
    });
  };

  /** A shopper message that is a button payload shows the button's title. */
  Chat.prototype.displayText = function (m) {
    if (m.sender === "shopper" && Object.prototype.hasOwnProperty.call(this.titles, m.text)) return this.titles[m.text];
    return null;
  };

  global.KaraWidgetChat = Chat;
})(window);
