/*
 * Kara Support history page (/console/history), for agents: search across
 * transcripts (GET /api/search?q=) and read one conversation
 * (GET /api/conversations/<id>/transcript). `?q=words` searches at once,
 * `?c=<id>` opens a conversation (the console's "Past conversations" links).
 * Signs in with widget/page-signin.js (or reuses the console's session of
 * this tab); every text from the server goes in as a text node.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var S = global.KaraPageSignIn; // widget/page-signin.js: sign-in, session, authorised fetch
  var el = T.el;

  function $(id) { return document.getElementById(id); }
  var ui = {
    form: $("search-form"), q: $("search-q"), note: $("search-note"), error: $("history-error"),
    resultsPanel: $("results-panel"), results: $("results"), conversation: $("conversation"),
    title: $("conversation-h"), meta: $("conversation-meta"), transcript: $("transcript"),
  };
  var SENDER = { shopper: "Shopper", bot: "Assistant", agent: "Agent", system: "Notice", note: "Private note" }; // notes: agents only (this page is for agents)

  function api(path) {
    return S.api(path, {
      failure: function (status, b) { return b.error ? "Cannot show that: " + b.error + "." : "That failed (" + status + ")."; },
    });
  }

  function failed(err) { S.showError(ui.note, ui.error, err); }

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

  S.start({ onSignedIn: fromAddress });
})(window);
