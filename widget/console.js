/*
 * Agent console: sign-in, the /ws/agent connection, and the wiring between
 * the live queues (console-queue.js), the claimed chats (console-chat.js) and
 * the alerts (alerts.js).
 *
 * The agent's token lives in sessionStorage (one tab = one signed-in agent);
 * a reload reconnects and the gateway's `welcome` lists the chats this agent
 * still owns, so nothing is lost. The gateway is this page's own host unless
 * `?gateway=ws://host:port` says otherwise.
 */
(function (global) {
  "use strict";

  var P = global.KaraProtocol;
  var A = global.KaraAlerts;
  var N = global.KaraNotify;
  var T = global.KaraText;
  var BASE_TITLE = "Kara Support console";

  var params = new URLSearchParams(global.location.search);
  var gateway = params.get("gateway") || global.location.origin;
  var wsUrl = P.websocketOrigin(gateway) + "/ws/agent";
  var httpBase = P.httpOrigin(gateway);

  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    loginView: $("login-view"), loginForm: $("login-form"), username: $("username"), password: $("password"),
    loginError: $("login-error"), loginBtn: $("login-submit"),
    appView: $("app-view"), agentName: $("agent-name"), conn: $("conn-status"), soundBtn: $("sound-toggle"),
    notifyBtn: $("notify-toggle"),
    signOut: $("sign-out"), queues: $("queues"), waitingCount: $("waiting-count"), emergencyBanner: $("emergency-banner"),
    tabs: $("chat-tabs"), panels: $("chat-panels"), noChats: $("no-chats"), live: $("live"), alertLive: $("alert-live"),
    toast: $("toast"),
  };

  var session = loadSession(); // {token, agent: {id, name}}
  var conn = null;
  var queueView = null;
  var chats = {}; // conversation_id -> KaraChatPane
  var order = []; // tab order
  var activeId = null;
  var claimButtons = {}; // ref -> button, to re-enable on error

  // ---- session -------------------------------------------------------------

  function loadSession() { return global.KaraSession.load(); } // widget/session.js (shared with the reports page)
  function saveSession(s) { global.KaraSession.save(s); }

  function showLogin(message) {
    ui.appView.hidden = true;
    ui.loginView.hidden = false;
    ui.loginError.hidden = !message;
    ui.loginError.textContent = message || "";
    A.stopFlash();
    A.setBaseTitle("Sign in · " + BASE_TITLE);
    ui.username.focus();
  }

  ui.loginForm.addEventListener("submit", function (e) {
    e.preventDefault();
    A.unlock(); // this click is the gesture that lets the page make sound later
    var username = ui.username.value.trim();
    var password = ui.password.value;
    if (!username || !password) {
      ui.loginError.textContent = "Enter your username and password.";
      ui.loginError.hidden = false;
      return;
    }
    ui.loginBtn.disabled = true;
    ui.loginBtn.textContent = "Signing in…";
    ui.loginError.hidden = true;
    fetch(httpBase + "/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: username, password: password }),
    })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
      })
      .then(function (res) {
        if (!res.ok || !res.body.token) {
          throw new Error(res.status === 401 ? "Wrong username or password." : (res.body.error || "Sign-in failed (" + res.status + ")."));
        }
        session = { token: res.body.token, agent: res.body.agent || { name: username } };
        saveSession(session);
        ui.password.value = "";
        startApp();
      })
      .catch(function (err) {
        ui.loginError.textContent = err && err.message && err.message.indexOf("Failed to fetch") < 0
          ? err.message : "Cannot reach the support gateway. Try again in a moment.";
        ui.loginError.hidden = false;
      })
      .then(function () {
        ui.loginBtn.disabled = false;
        ui.loginBtn.textContent = "Sign in";
      });
  });

  ui.signOut.addEventListener("click", function () {
    if (conn) conn.stop();
    conn = null;
    session = null;
    saveSession(null);
    resetChats();
    showLogin("You signed out.");
  });

  // The button shows what the agent will hear: on, off, or wanted but not yet
  // allowed by the browser (no click on the page since it loaded).
  ui.soundBtn.addEventListener("click", function () {
    A.setMuted(A.state() === "on"); // off or blocked: this click turns it on (and is the gesture)
  });
  A.onChange(function (state) {
    ui.soundBtn.setAttribute("aria-pressed", String(state === "on"));
    ui.soundBtn.textContent = { on: "Sound on", off: "Sound off", blocked: "Sound blocked: click to allow" }[state];
    ui.soundBtn.title = state === "blocked" ? "Browsers play sound only after a click or key press on the page." : "";
    ui.soundBtn.classList.toggle("c-btn-warn", state === "blocked");
  });

  ui.notifyBtn.addEventListener("click", function () {
    if (N.state() === "on") N.disable();
    else N.enable(); // the browser asks the agent, from this click
  });
  N.onChange(function (state) {
    ui.notifyBtn.hidden = state === "unsupported";
    ui.notifyBtn.disabled = state === "denied";
    ui.notifyBtn.setAttribute("aria-pressed", String(state === "on"));
    ui.notifyBtn.textContent = {
      on: "Desktop notifications on",
      off: "Turn on desktop notifications",
      denied: "Notifications blocked in browser settings",
    }[state] || "";
  });

  // ---- the connection ----------------------------------------------------------

  function startApp() {
    ui.loginView.hidden = true;
    ui.appView.hidden = false;
    ui.agentName.textContent = (session.agent && session.agent.name) || "Agent";
    A.setBaseTitle(BASE_TITLE);
    A.init();
    if (!queueView) {
      queueView = new global.KaraQueueView(ui.queues, {
        onClaim: claim,
        me: function () { return session && session.agent && session.agent.id; }, // a transfer of one's own
      });
    }
    conn = new P.Connection({
      url: wsUrl,
      hello: function () { return { type: "hello", v: P.VERSION, token: session.token }; },
      onFrame: handle,
      onStatus: setConnStatus,
      onUnauthorized: function () {
        conn = null;
        session = null;
        saveSession(null);
        resetChats();
        showLogin("Your session has expired. Please sign in again.");
        return false;
      },
    });
    conn.start();
  }

  function setConnStatus(status, info) {
    var text = { connecting: "Connecting…", open: "Online", reconnecting: "Reconnecting…", closed: "Offline" }[status] || status;
    if (status === "reconnecting" && info.delayMs) text = "Reconnecting in " + Math.max(1, Math.round(info.delayMs / 1000)) + " s…";
    ui.conn.textContent = text;
    ui.conn.className = "c-conn c-conn-" + status;
  }

  function handle(frame) {
    dispatch(frame);
    if (global.KaraSla) global.KaraSla.onFrame(frame); // console-sla.js: SLA countdown, alerts, Reports link
    if (global.KaraPresence) global.KaraPresence.onFrame(frame); // console-presence.js: "Shopper left"
    if (global.KaraAssign) global.KaraAssign.onFrame(frame); // console-assign.js: status, transfers, live desk
  }

  function dispatch(frame) {
    switch (frame.type) {
      case "welcome": return onWelcome(frame);
      case "queues": return onQueues(frame.queues);
      case "handoff": return onHandoff(frame.entry || {});
      case "claimed": return onClaimed(frame);
      case "message": return onMessage(frame);
      case "typing": return chats[frame.conversation_id] && chats[frame.conversation_id].setTyping(!!frame.on);
      case "chat_ended": return onEnded(frame);
      case "error": return onError(frame);
      default: return undefined;
    }
  }

  function onWelcome(frame) {
    if (frame.agent && frame.agent.name) {
      session.agent = frame.agent;
      saveSession(session);
      ui.agentName.textContent = frame.agent.name;
    }
    // The chats this agent owns now: the gateway's word after a reload or a
    // reconnect. Ours are kept, with what was said while this console was
    // offline (frames sent meanwhile were not kept for it).
    var owned = {};
    (frame.chats || []).forEach(function (chat) {
      var id = chat.conversation_id;
      owned[id] = true;
      if (chats[id] && !chats[id].isEnded) {
        (chat.transcript || []).forEach(function (m) { chats[id].addMessage(m, id === activeId && !document.hidden); });
      } else {
        openChat(chat, false);
      }
    });
    // A chat shown as ours that is not in the list ended while we were offline
    // (back in the queue after the grace period, taken by a colleague): no
    // reply box for it, and nothing typed meanwhile goes out to it.
    order.slice().forEach(function (id) {
      if (owned[id] || chats[id].isEnded) return;
      conn.dropQueued(function (f) { return f.conversation_id === id; });
      chats[id].failAllPending("this chat is no longer yours");
      chats[id].ended("gone");
    });
    if (!activeId && order.length) select(order[0]);
    if (frame.queues) onQueues(frame.queues);
  }

  function onQueues(queues) {
    queueView.render(queues || {});
    var total = queueView.count();
    var emergencies = queueView.count("emergency");
    ui.waitingCount.textContent = String(total);
    ui.emergencyBanner.hidden = emergencies === 0;
    ui.emergencyBanner.textContent = emergencies === 1
      ? "1 emergency waiting: claim it now"
      : emergencies + " emergencies waiting: claim now";
    if (emergencies === 0) A.stopFlash();
    else A.flashTitle("🚨 EMERGENCY waiting (" + emergencies + ")");
    A.setBaseTitle((total ? "(" + total + ") " : "") + BASE_TITLE);
  }

  function onHandoff(entry) {
    var label = (global.KaraQueueView.QUEUE_LABEL[entry.queue] || "New") + " chat waiting: " + T.humanize(entry.reason || "");
    var focusCard = function () { focusEntry(entry.conversation_id); };
    if (entry.queue === "emergency") {
      A.emergency();
      A.flashTitle("🚨 EMERGENCY waiting");
      announce(ui.alertLive, "Emergency! " + label);
      N.show("🚨 Emergency waiting: claim it now", T.humanize(entry.reason || "") + (entry.summary ? " · " + entry.summary : ""),
        "handoff-" + entry.conversation_id, { urgent: true, onClick: focusCard });
    } else {
      A.chime();
      announce(ui.live, label);
      N.show(label, entry.summary || "", "handoff-" + entry.conversation_id, { onClick: focusCard });
    }
  }

  /** Bring a waiting chat's Claim button into view and focus (a notification was clicked). */
  function focusEntry(conversationId) {
    var card = ui.queues.querySelector('.c-entry[data-conversation="' + String(conversationId).replace(/["\\]/g, "") + '"]');
    var button = card && card.querySelector(".c-claim");
    if (button) { card.scrollIntoView({ block: "nearest" }); button.focus(); }
  }

  // ---- claiming and chats ----------------------------------------------------

  function claim(entry, button) {
    var ref = conn.send({ type: "claim", conversation_id: entry.conversation_id });
    claimButtons[ref] = button;
  }

  function onClaimed(frame) {
    var chat = frame.chat || {};
    if (!chat.conversation_id) return;
    if (!chat.claimed_at) chat.claimed_at = new Date().toISOString();
    if (!chats[chat.conversation_id] || chats[chat.conversation_id].isEnded) openChat(chat, true);
    select(chat.conversation_id, true);
  }

  /** Show a chat this agent now owns; a pane left from its earlier, ended stint is replaced (not reused: its composer is gone). */
  function openChat(chat, fresh) {
    removeChat(chat.conversation_id);
    addChat(chat, fresh);
  }

  function addChat(chat, fresh) {
    var pane = new global.KaraChatPane(chat, session.agent && session.agent.name, {
      onSelect: function (id) { select(id, true); },
      onSend: function (id, text) {
        var ref = conn.send({ type: "message", conversation_id: id, text: text });
        chats[id].addPending(ref, text);
      },
      onTyping: function (id, on) { conn.send({ type: "typing", conversation_id: id, on: on }, { queue: false }); },
      onTransfer: function (id, queue) { conn.send({ type: "transfer", conversation_id: id, queue: queue }); },
      onHandback: function (id) { conn.send({ type: "handback", conversation_id: id }); },
      onClose: function (id) { conn.send({ type: "close", conversation_id: id }); },
      onDismiss: function (id) { removeChat(id); },
    });
    chats[chat.conversation_id] = pane;
    if (global.KaraDesk) global.KaraDesk.attach(pane, { base: httpBase, token: function () { return session && session.token; }, send: function (f) { return conn.send(f); } });
    order.push(chat.conversation_id);
    ui.tabs.appendChild(pane.tab);
    ui.panels.appendChild(pane.panel);
    ui.noChats.hidden = true;
    if (fresh) announce(ui.live, "You claimed: " + (T.humanize(pane.handoff.reason) || "a chat"));
  }

  function select(id, focus) {
    if (!chats[id]) return;
    activeId = id;
    order.forEach(function (cid) { chats[cid].setActive(cid === id); });
    if (focus) chats[id].focusComposer();
  }

  function removeChat(id) {
    var pane = chats[id];
    if (!pane) return;
    pane.tab.remove();
    pane.panel.remove();
    delete chats[id];
    order = order.filter(function (cid) { return cid !== id; });
    if (activeId === id) {
      activeId = null;
      if (order.length) select(order[order.length - 1], true);
    }
    ui.noChats.hidden = order.length > 0;
  }

  function resetChats() {
    order.slice().forEach(removeChat);
  }

  function onMessage(m) {
    var pane = chats[m.conversation_id];
    if (!pane) return;
    var active = m.conversation_id === activeId && !document.hidden;
    var news = pane.addMessage(m, active);
    if (news && m.sender === "shopper") {
      var who = pane.senderLabel(m) + " (" + (T.humanize(pane.handoff.reason) || "chat") + ")";
      announce(ui.live, who + ": " + m.text);
      if (!active) {
        A.chime();
        N.show("New message: " + who, m.text, "message-" + m.conversation_id,
          { onClick: function () { select(m.conversation_id, true); } });
      }
    }
  }

  function onEnded(frame) {
    var pane = chats[frame.conversation_id];
    if (!pane) return;
    pane.ended(frame.why);
    announce(ui.live, "Chat ended: " + T.humanize(pane.handoff.reason || "") + ". " + pane.endedText.textContent);
  }

  function onError(frame) {
    var button = frame.ref && claimButtons[frame.ref];
    if (button) {
      delete claimButtons[frame.ref];
      queueView.resetClaim(button);
    }
    // A reply that failed: mark it on its chat.
    for (var i = 0; i < order.length; i++) {
      if (chats[order[i]].failPending(frame.ref, frame.message)) return;
    }
    var text = {
      already_claimed: "Another agent claimed that chat first.",
      not_owner: "That chat is no longer yours.",
      not_found: "That chat no longer exists.",
      rate_limited: "Too fast: wait a moment and try again.",
    }[frame.code] || frame.message || "Something went wrong.";
    toast(text);
  }

  // ---- helpers ------------------------------------------------------------------

  function announce(region, text) {
    var p = document.createElement("p");
    p.textContent = text;
    region.appendChild(p);
    while (region.children.length > 3) region.removeChild(region.firstChild);
  }

  var toastTimer = null;
  function toast(text) {
    ui.toast.textContent = text;
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { ui.toast.hidden = true; }, 6000);
  }

  // Arrow keys move between chat tabs (the WAI-ARIA tabs pattern).
  ui.tabs.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    var i = order.indexOf(activeId);
    if (i < 0) return;
    var next = order[(i + (e.key === "ArrowRight" ? 1 : order.length - 1)) % order.length];
    select(next, false);
    chats[next].tab.focus();
    e.preventDefault();
  });

  // Coming back to the tab reads the active chat's new messages.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && activeId && chats[activeId]) chats[activeId].setActive(true);
  });

  // For tests and debugging: the state the page is in, read-only.
  global.KaraConsole = {
    chats: function () { return Object.keys(chats); },
    activeChat: function () { return activeId; },
    pane: function (id) { return chats[id] || null; }, // console-sla.js marks the chat's tab and header
    send: function (frame) { return conn ? conn.send(frame) : null; }, // console-assign.js: status, supervisors
  };

  if (session && session.token) startApp();
  else showLogin(null);
})(window);
