/*
 * Agent console: the ticket inbox and "My ratings" (handoff/desk/tickets_http.py).
 *
 * Two buttons in the top bar (#desk-buttons) open one drawer each (#desk-panels):
 * - the inbox: tickets by status (open / answered / closed), oldest first; a
 *   ticket shows the shopper's message, the conversation it came from and the
 *   replies; the agent replies (emailed by the gateway) and closes it;
 * - my ratings: the score and comment of the chats this agent closed.
 * It talks HTTP with the agent's token of this tab (widget/session.js) and
 * renders everything as text (KaraText.el / appendText: never innerHTML).
 * Exposed as `window.KaraDesk` (state for tests).
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var P = global.KaraProtocol;
  var el = function (tag, attrs, children) { return T.el(tag, attrs, children); };
  var STATUSES = [["open", "Open"], ["answered", "Answered"], ["closed", "Closed"]];
  var SENDER = { shopper: "Shopper", bot: "Assistant", agent: "Agent", system: "System" };
  var REFRESH_MS = 60000;

  var params = new URLSearchParams(global.location.search);
  var base = P.httpOrigin(params.get("gateway") || global.location.origin);
  var buttonsHost = document.getElementById("desk-buttons");
  var panelsHost = document.getElementById("desk-panels");
  var appView = document.getElementById("app-view");
  if (!buttonsHost || !panelsHost) return;

  var state = { status: "open", counts: null, tickets: [], current: null, open: null };

  // ---- HTTP -------------------------------------------------------------------

  function api(path, options) {
    var session = global.KaraSession.load();
    var headers = { Authorization: "Bearer " + (session && session.token) };
    var init = { method: (options && options.method) || "GET", headers: headers };
    if (options && options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    return fetch(base + path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 401) body.error = "Your session has expired: sign out and sign in again.";
        return { ok: r.ok, status: r.status, body: body };
      });
    }, function () {
      return { ok: false, status: 0, body: { error: "Cannot reach the support gateway. Try again in a moment." } };
    });
  }

  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return d.toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  function waited(iso) {
    var s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 3600) return Math.max(1, Math.round(s / 60)) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " days";
  }

  // ---- the top-bar buttons and drawers -------------------------------------------

  var inboxBtn = el("button", { type: "button", "class": "c-btn c-btn-ghost", id: "tickets-toggle", "aria-expanded": "false",
    "aria-controls": "tickets-panel" }, ["Tickets ", el("span", { "class": "d-badge", id: "tickets-open-count", hidden: true })]);
  var ratingsBtn = el("button", { type: "button", "class": "c-btn c-btn-ghost", id: "ratings-toggle", "aria-expanded": "false",
    "aria-controls": "ratings-panel", text: "My ratings" });
  buttonsHost.appendChild(inboxBtn);
  buttonsHost.appendChild(ratingsBtn);

  function drawer(id, title) {
    var heading = el("h2", { id: id + "-h", text: title });
    var closeBtn = el("button", { type: "button", "class": "c-btn", text: "Hide", "aria-label": "Hide " + title.toLowerCase() });
    var body = el("div", { "class": "d-body" });
    var section = el("section", { id: id, "class": "d-drawer", role: "region", "aria-labelledby": id + "-h", hidden: true },
      [el("header", { "class": "d-head" }, [heading, closeBtn]), body]);
    closeBtn.addEventListener("click", function () { show(null); });
    panelsHost.appendChild(section);
    return { section: section, body: body, heading: heading };
  }

  var inbox = drawer("tickets-panel", "Ticket inbox");
  var ratings = drawer("ratings-panel", "My ratings");

  function show(which) {
    state.open = which;
    inbox.section.hidden = which !== "inbox";
    ratings.section.hidden = which !== "ratings";
    inboxBtn.setAttribute("aria-expanded", String(which === "inbox"));
    ratingsBtn.setAttribute("aria-expanded", String(which === "ratings"));
    if (which === "inbox") { loadList(); inbox.heading.focus(); }
    if (which === "ratings") { loadRatings(); ratings.heading.focus(); }
  }
  inbox.heading.tabIndex = -1;
  ratings.heading.tabIndex = -1;
  inboxBtn.addEventListener("click", function () { show(state.open === "inbox" ? null : "inbox"); });
  ratingsBtn.addEventListener("click", function () { show(state.open === "ratings" ? null : "ratings"); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && state.open) show(null); });

  // ---- the inbox ------------------------------------------------------------------

  var filters = el("div", { "class": "d-filters", role: "group", "aria-label": "Ticket status" });
  var list = el("ul", { "class": "d-list", "aria-label": "Tickets, oldest first" });
  var listNote = el("p", { "class": "d-note", role: "status" });
  var detail = el("div", { "class": "d-detail", "aria-live": "polite" });
  inbox.body.appendChild(el("div", { "class": "d-columns" }, [
    el("div", { "class": "d-side" }, [filters, listNote, list]), detail]));
  var filterBtns = {};
  STATUSES.forEach(function (s) {
    var b = el("button", { type: "button", "class": "c-btn d-filter", "aria-pressed": String(s[0] === state.status), "data-status": s[0] });
    b.addEventListener("click", function () { state.status = s[0]; state.current = null; loadList(); });
    filterBtns[s[0]] = b;
    filters.appendChild(b);
  });

  function setCounts(counts) {
    state.counts = counts;
    STATUSES.forEach(function (s) {
      filterBtns[s[0]].textContent = s[1] + " (" + (counts ? counts[s[0]] : "…") + ")";
      filterBtns[s[0]].setAttribute("aria-pressed", String(s[0] === state.status));
    });
    var badge = document.getElementById("tickets-open-count");
    badge.textContent = counts ? String(counts.open) : "";
    badge.hidden = !counts || !counts.open;
    inboxBtn.setAttribute("aria-label", counts ? "Tickets, " + counts.open + " open" : "Tickets");
  }
  setCounts(null);

  function loadList() {
    setCounts(state.counts);
    listNote.textContent = "Loading…";
    return api("/api/tickets?status=" + state.status).then(function (res) {
      if (!res.ok) { listNote.textContent = res.body.error || "Could not load the tickets."; return; }
      setCounts(res.body.counts);
      state.tickets = res.body.tickets;
      renderList();
      if (state.current) return openTicket(state.current); // still shown after it left this status
      detail.textContent = "";
    });
  }

  function renderList() {
    list.textContent = "";
    listNote.textContent = state.tickets.length ? "" : "No " + state.status + " tickets.";
    state.tickets.forEach(function (t) {
      var b = el("button", { type: "button", "class": "d-item", "data-ticket": t.id, "aria-current": String(t.id === state.current) }, [
        el("span", { "class": "d-item-top" }, [el("strong", { text: "#" + t.id + " " + t.email }),
          el("span", { "class": "d-age", text: t.status === "open" ? "waiting " + waited(t.created_at) : when(t.created_at) })]),
        el("span", { "class": "d-item-text", text: t.text }),
      ]);
      b.addEventListener("click", function () { openTicket(t.id); });
      list.appendChild(el("li", {}, [b]));
    });
  }

  function openTicket(id) {
    state.current = id;
    Array.prototype.forEach.call(list.querySelectorAll(".d-item"), function (b) {
      b.setAttribute("aria-current", String(Number(b.getAttribute("data-ticket")) === id));
    });
    return api("/api/tickets/" + id).then(function (res) {
      if (!res.ok) { detail.textContent = res.body.error || "Could not load the ticket."; return; }
      renderTicket(res.body);
    });
  }

  function message(m) {
    var who = m.sender === "agent" && m.agent_name ? m.agent_name : SENDER[m.sender] || m.sender;
    return el("li", { "class": "c-msg c-from-" + m.sender }, [
      el("div", { "class": "c-msg-head" }, [el("span", { "class": "c-msg-who", text: who }), el("time", { text: when(m.created_at) })]),
      T.appendText(el("div", { "class": "c-msg-text" }), m.text),
    ]);
  }

  function replyItem(r) {
    return el("li", { "class": "d-reply" + (r.sent ? "" : " d-reply-failed"), "data-reply": r.id }, [
      el("div", { "class": "c-msg-head" }, [el("span", { "class": "c-msg-who", text: r.agent }),
        el("span", { "class": "d-sent", text: r.sent ? "Emailed " + when(r.sent_at) : "Not sent: " + (r.error || "unknown error") })]),
      T.appendText(el("div", { "class": "c-msg-text" }), r.text),
    ]);
  }

  function renderTicket(data) {
    var t = data.ticket;
    detail.textContent = "";
    var where = t.queue ? T.humanize(t.queue) + " queue" + (t.reason ? ", " + T.humanize(t.reason) : "") : "from the assistant";
    detail.appendChild(el("h3", { "class": "d-title", id: "ticket-title", text: "Ticket #" + t.id + " from " + t.email }));
    detail.appendChild(el("p", { "class": "c-pane-sub", text: "Left " + when(t.created_at) + " (" + where + ") · " +
      T.humanize(t.status) + (t.answered_by ? " by " + t.answered_by : "") }));
    detail.appendChild(el("blockquote", { "class": "d-quote" }, [T.appendText(el("p", { "class": "c-msg-text" }), t.text)]));
    detail.appendChild(el("h4", { text: "The conversation it came from" }));
    var transcript = el("ol", { "class": "c-transcript d-transcript", "aria-label": "Conversation" }, data.transcript.map(message));
    if (!data.transcript.length) transcript.appendChild(el("li", { "class": "d-note", text: "No messages." }));
    detail.appendChild(transcript);
    detail.appendChild(el("h4", { text: "Replies (" + data.replies.length + ")" }));
    var replies = el("ol", { "class": "d-replies", "aria-label": "Replies" }, data.replies.map(replyItem));
    detail.appendChild(replies);
    if (t.status !== "closed") detail.appendChild(composer(t));
  }

  function composer(t) {
    var box = el("textarea", { id: "ticket-reply", "class": "c-input", rows: "5", maxlength: "4000" });
    var send = el("button", { type: "submit", "class": "c-btn c-btn-primary", text: "Send reply by email" });
    var close = el("button", { type: "button", "class": "c-btn c-btn-danger-outline", text: "Close ticket #" + t.id });
    var note = el("p", { "class": "d-note", role: "status", id: "ticket-status" });
    var form = el("form", { "class": "d-compose", novalidate: true }, [
      el("label", { "for": "ticket-reply", text: "Reply to " + t.email }), box,
      el("div", { "class": "d-compose-actions" }, [send, close]), note]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = box.value.trim();
      if (!text) { note.textContent = "Write a reply first."; box.focus(); return; }
      send.disabled = true;
      note.textContent = "Sending…";
      api("/api/tickets/" + t.id + "/reply", { method: "POST", body: { text: text } }).then(function (res) {
        send.disabled = false;
        if (res.body.reply) {
          box.value = res.body.sent ? "" : box.value; // a reply not sent stays in the box to try again
          loadList().then(function () {
            var status = document.getElementById("ticket-status");
            if (status) status.textContent = res.body.sent ? "Reply emailed to " + t.email + "." : res.body.error;
          });
        } else {
          note.textContent = res.body.error || "The reply was not sent.";
        }
      });
    });
    close.addEventListener("click", function () {
      close.disabled = true;
      api("/api/tickets/" + t.id + "/close", { method: "POST" }).then(function (res) {
        close.disabled = false;
        if (!res.ok) { note.textContent = res.body.error || "Could not close the ticket."; return; }
        state.current = null;
        loadList().then(function () { listNote.textContent = "Ticket #" + t.id + " closed."; });
      });
    });
    return form;
  }

  // ---- my ratings -----------------------------------------------------------------

  function loadRatings() {
    ratings.body.textContent = "Loading…";
    api("/api/ratings").then(function (res) {
      ratings.body.textContent = "";
      if (!res.ok) { ratings.body.appendChild(el("p", { "class": "d-note", text: res.body.error || "Could not load your ratings." })); return; }
      var s = res.body.summary;
      ratings.body.appendChild(el("p", { "class": "d-summary", id: "ratings-summary", text: s.rated
        ? "Average " + s.mean.toFixed(1) + " of 5 from " + s.rated + (s.rated === 1 ? " rating" : " ratings")
        : "No ratings yet: shoppers rate a chat after you close it." }));
      ratings.body.appendChild(el("ol", { "class": "d-ratings", "aria-label": "Rated chats, newest first" }, res.body.ratings.map(function (r) {
        return el("li", { "class": "d-rating", "data-score": r.score }, [
          el("div", { "class": "c-msg-head" }, [el("strong", { "class": "d-stars", text: r.score + "/5", "aria-label": r.score + " out of 5" }),
            el("span", { text: T.humanize(r.queue) + " · " + T.humanize(r.reason) + " · " + when(r.closed_at) })]),
          r.comment ? T.appendText(el("p", { "class": "c-msg-text" }), r.comment) : el("p", { "class": "d-note", text: "No comment." }),
        ]);
      })));
    });
  }

  // ---- the open count on the button -------------------------------------------------

  function refreshCount() {
    var session = global.KaraSession.load();
    if (!session || !session.token || (appView && appView.hidden)) return;
    api("/api/tickets?status=open&limit=1").then(function (res) { if (res.ok) setCounts(res.body.counts); });
  }
  if (appView && global.MutationObserver) {
    new MutationObserver(function () { if (!appView.hidden) refreshCount(); else show(null); })
      .observe(appView, { attributes: true, attributeFilter: ["hidden"] });
  }
  refreshCount();
  setInterval(refreshCount, REFRESH_MS);

  // Added to console-desk.js's KaraDesk (replacing it would take attach() from every chat panel).
  var desk = global.KaraDesk || (global.KaraDesk = {});
  desk.state = function () { return state; };
  desk.show = show;
})(window);
