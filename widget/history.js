/*
 * Kara Support history page (/console/history), for agents: search across
 * transcripts (GET /api/search?q=) and read one conversation
 * (GET /api/conversations/<id>/transcript). `?q=words` searches at once,
 * `?c=<id>` opens a conversation (the console's "Past conversations" links).
 * Signs in like the reports page (or reuses the console's session of this
 * tab); every text from the server goes in as a text node.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var el = T.el;
  var session = null;

  function $(id) { return document.getElementById(id); }
  var ui = {
    loginView: $("login-view"), loginForm: $("login-form"), username: $("username"), password: $("password"),
    loginError: $("login-error"), loginBtn: $("login-submit"), appView: $("app-view"), agentName: $("agent-name"),
    signOut: $("sign-out"), form: $("search-form"), q: $("search-q"), note: $("search-note"), error: $("history-error"),
    resultsPanel: $("results-panel"), results: $("results"), conversation: $("conversation"),
    title: $("conversation-h"), meta: $("conversation-meta"), transcript: $("transcript"),
  };
  var SENDER = { shopper: "Shopper", bot: "Assistant", agent: "Agent", system: "Notice", note: "Private note" }; // notes: agents only (this page is for agents)

  function showLogin(message) {
    ui.appView.hidden = true;
    ui.loginView.hidden = false;
    ui.loginError.hidden = !message;
    ui.loginError.textContent = message || "";
    ui.username.focus();
  }

  function showApp() {
    ui.loginView.hidden = true;
    ui.appView.hidden = false;
    ui.agentName.textContent = (session.agent && session.agent.name) || "";
  }

  ui.loginForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var username = ui.username.value.trim();
    var password = ui.password.value;
    if (!username || !password) { showLogin("Enter your username and password."); return; }
    ui.loginBtn.disabled = true;
    fetch("/api/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: username, password: password }),
    })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status !== 200 || !res.body.token) {
          throw new Error(res.status === 401 ? "Wrong username or password." : (res.body.error || "Sign-in failed."));
        }
        session = { token: res.body.token, agent: res.body.agent || { name: username } };
        global.KaraSession.save(session);
        ui.password.value = "";
        showApp();
        fromAddress();
      })
      .catch(function (err) {
        showLogin(err && err.message && err.message.indexOf("fetch") < 0 ? err.message : "Cannot reach the support gateway.");
      })
      .then(function () { ui.loginBtn.disabled = false; });
  });

  ui.signOut.addEventListener("click", function () {
    session = null;
    global.KaraSession.save(null);
    showLogin("You signed out.");
  });

  function api(path) {
    return fetch(path, { headers: { Authorization: "Bearer " + session.token } }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (b) {
        if (res.status === 401) {
          session = null;
          global.KaraSession.save(null);
          showLogin("Your session has expired. Please sign in again.");
          throw new Error("");
        }
        if (!res.ok) throw new Error(b.error ? "Cannot show that: " + b.error + "." : "That failed (" + res.status + ").");
        return b;
      });
    });
  }

  function failed(err) {
    ui.note.textContent = "";
    if (!err || !err.message) return;
    ui.error.textContent = err.message;
    ui.error.hidden = false;
  }

  function when(iso) { return String(iso || "").replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC"); }

  function address(params) {
    try { global.history.replaceState(null, "", "?" + new URLSearchParams(params).toString()); } catch (e) { /* old browser */ }
  }

  // ---- search -------------------------------------------------------------------

  function search(q) {
    ui.error.hidden = true;
    ui.note.textContent = "Searching…";
    address({ q: q });
    return api("/api/search?q=" + encodeURIComponent(q)).then(function (body) {
      ui.results.textContent = "";
      body.results.forEach(function (r) {
        var link = el("a", { href: "?c=" + encodeURIComponent(r.conversation_id), text: "Conversation of " + when(r.created_at) });
        link.addEventListener("click", function (e) { e.preventDefault(); open(r.conversation_id); });
        var item = el("li", { "data-conversation": r.conversation_id }, [link]);
        r.labels.forEach(function (l) { item.appendChild(el("span", { class: "h-label", text: l })); });
        item.appendChild(el("span", { class: "h-excerpt", text: SENDER[r.message.sender] + ": " + r.message.excerpt }));
        item.appendChild(el("span", { class: "h-meta", text: r.hits + (r.hits === 1 ? " message" : " messages") + " match · " +
          T.humanize(r.role) + " · " + r.line + " · " + r.conversation_id }));
        ui.results.appendChild(item);
      });
      ui.resultsPanel.hidden = false;
      ui.note.textContent = body.results.length ? body.results.length + " conversations found." : "Nothing found for those words.";
    }).catch(failed);
  }

  ui.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = ui.q.value.trim();
    if (!q) { failed(new Error("Type the words to look for.")); return; }
    search(q);
  });

  // ---- one conversation -------------------------------------------------------------

  function open(cid) {
    ui.error.hidden = true;
    return api("/api/conversations/" + encodeURIComponent(cid) + "/transcript").then(function (body) {
      var c = body.conversation;
      ui.title.textContent = "Conversation of " + when(c.created_at);
      var stints = body.handoffs.map(function (h) {
        return T.humanize(h.queue) + ": " + T.humanize(h.reason) + (h.outcome ? " (" + T.humanize(h.outcome) + ")" : "");
      });
      ui.meta.textContent = [T.humanize(c.role) + " · " + c.line + " · " + c.id]
        .concat(body.labels.length ? ["Labels: " + body.labels.join(", ")] : [])
        .concat(stints.length ? ["Handoffs: " + stints.join("; ")] : []).join(" · ");
      ui.transcript.textContent = "";
      body.messages.forEach(function (m) {
        var who = m.sender === "agent" && m.agent_name ? m.agent_name : (SENDER[m.sender] || m.sender);
        ui.transcript.appendChild(el("li", { class: "h-msg h-msg-" + m.sender }, [
          el("span", { class: "h-who", text: who }), el("span", { class: "h-when", text: when(m.at) }),
          T.appendText(el("span", {}), m.text || "(removed by retention)"),
        ]));
      });
      ui.conversation.hidden = false;
      ui.conversation.scrollIntoView({ block: "start" });
    }).catch(failed);
  }

  function fromAddress() {
    var params = new URLSearchParams(global.location.search);
    if (params.get("q")) { ui.q.value = params.get("q"); search(params.get("q")); }
    if (params.get("c")) open(params.get("c"));
  }

  session = global.KaraSession.load();
  if (!session || !session.token) showLogin("");
  else { showApp(); fromAddress(); }
})(window);
