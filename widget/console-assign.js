/*
 * Agent console: status, pending transfers and the supervisors' live desk
 * (handoff/assign.py, handoff/supervise.py; PROTOCOL.md "Assignment and supervisors").
 *
 * - The top bar's Status select sends `status` (online / away / busy); only an
 *   online agent gets chats assigned automatically. It follows `welcome` and
 *   `agent_status` (another tab of the same agent).
 * - `transfer_pending` (and `welcome.chats[].transfer_pending`) puts a line on
 *   the chat's panel: the agent keeps the chat until someone takes it.
 * - "Transfer to agent" on every chat panel offers the chat to an agent online
 *   (`transfer` with `agent_id`; `welcome.agents` and `agent_status` keep the list).
 * - Supervisors get a "Live chats" button: a drawer listing every waiting and
 *   claimed chat and the agents online (`list_chats`), where a chat can be read
 *   without joining (`watch`: its messages arrive live, nobody else is told)
 *   or given to an agent or a queue (`reassign`).
 * console.js calls KaraAssign.onFrame(frame) for every frame. Text is set as
 * text (KaraText.el), never as HTML. Exposed as `window.KaraAssign`.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var el = function (tag, attrs, children) { return T.el(tag, attrs, children); };
  var STATUSES = [["online", "Online"], ["away", "Away"], ["busy", "Busy"]];
  var QUEUES = global.KaraQueueView.QUEUES;
  var QUEUE_LABEL = global.KaraQueueView.QUEUE_LABEL;
  var SENDER = { shopper: "Shopper", bot: "Assistant", agent: "Agent", system: "Notice", note: "Private note" };

  var me = { id: null, role: null };
  var roster = {}; // agent id -> {id, name, status}: who is online, for "Transfer to agent"
  var pickers = []; // the agent selects of the chat panels
  var send = function (frame) { return global.KaraConsole && global.KaraConsole.send(frame); };

  // ---- status ---------------------------------------------------------------------

  var statusSelect = el("select", { id: "agent-status", "class": "c-select ca-status-select", "aria-label": "Your status" });
  STATUSES.forEach(function (s) { statusSelect.appendChild(el("option", { value: s[0], text: s[1] })); });
  var statusBox = el("label", { "class": "ca-status", "data-status": "online" }, ["Status ", statusSelect]);
  var right = document.querySelector(".topbar-right");
  if (right) right.insertBefore(statusBox, right.querySelector(".agent"));
  statusSelect.addEventListener("change", function () {
    showStatus(statusSelect.value);
    send({ type: "status", status: statusSelect.value });
  });

  function showStatus(status) {
    statusSelect.value = status || "online";
    statusBox.setAttribute("data-status", statusSelect.value);
  }

  // ---- pending transfers ----------------------------------------------------------

  function markPending(conversationId, pending) {
    var pane = global.KaraConsole && global.KaraConsole.pane(conversationId);
    if (!pane) return;
    var line = pane.panel.querySelector(".ca-pending");
    if (!pending) { if (line) line.remove(); return; }
    if (!line) {
      line = el("p", { "class": "ca-pending", role: "status" });
      pane.composer.parentNode.insertBefore(line, pane.composer);
    }
    var to = pending.offered_to ? pending.offered_to.name : "the " + (QUEUE_LABEL[pending.queue] || pending.queue) + " queue";
    line.textContent = "Transfer pending to " + to + ": you keep this chat until someone takes it.";
    pane.tab.classList.add("ca-tab-pending");
  }

  // ---- transfer to a named agent (a part of every chat panel, console-desk.js) -----------

  if (global.KaraDesk) global.KaraDesk.part(function (pane, ctx) {
    var picker = el("select", { "class": "c-select", "aria-label": "Transfer to agent" });
    var button = el("button", { type: "button", "class": "c-btn", text: "Offer",
      onclick: function () {
        if (!picker.value) return;
        var queue = pane.handoff.queue || "general";
        ctx.send({ type: "transfer", conversation_id: pane.id, queue: queue, agent_id: Number(picker.value) });
      } });
    var row = el("div", { "class": "c-transfer ca-transfer-agent" }, [picker, button]);
    var firstButton = null; // after the queue transfer and its note, before "Hand back to bot"
    for (var i = 0; i < pane.actions.children.length && !firstButton; i++) {
      if (pane.actions.children[i].tagName === "BUTTON") firstButton = pane.actions.children[i];
    }
    pane.actions.insertBefore(row, firstButton);
    pickers.push({ select: picker, button: button, pane: pane });
    fillPicker(pickers[pickers.length - 1]);
  });

  function fillPicker(p) {
    if (p.pane.isEnded) return;
    var keep = p.select.value;
    p.select.textContent = "";
    Object.keys(roster).map(function (k) { return roster[k]; })
      .filter(function (a) { return a.id !== me.id; })
      .sort(function (a, b) { return a.name < b.name ? -1 : 1; })
      .forEach(function (a) {
        p.select.appendChild(el("option", { value: String(a.id), text: a.name + (a.status !== "online" ? " (" + a.status + ")" : "") }));
      });
    if (!p.select.options.length) p.select.appendChild(el("option", { value: "", text: "No other agent online" }));
    if (keep && roster[keep]) p.select.value = keep;
    p.button.disabled = !p.select.value;
  }

  function rosterChanged() {
    pickers = pickers.filter(function (p) { return p.select.isConnected; });
    pickers.forEach(fillPicker);
  }

  // ---- supervisors: the live desk ---------------------------------------------------

  var deskBtn = el("button", { type: "button", "class": "c-btn c-btn-ghost", id: "live-desk-toggle", hidden: true,
    "aria-expanded": "false", "aria-controls": "live-desk", text: "Live chats" });
  var heading = el("h2", { id: "live-desk-h", text: "Live chats", tabindex: "-1" });
  var hideBtn = el("button", { type: "button", "class": "c-btn", text: "Hide", "aria-label": "Hide live chats" });
  var agentsList = el("ul", { "class": "ca-agents", "aria-label": "Agents online" });
  var chatList = el("ul", { "class": "d-list", "aria-label": "Waiting and claimed chats" });
  var viewer = el("div", { "class": "d-detail", "aria-live": "polite" });
  var drawer = el("section", { id: "live-desk", "class": "d-drawer", role: "region", "aria-labelledby": "live-desk-h",
    hidden: true }, [
    el("header", { "class": "d-head" }, [heading, hideBtn]),
    el("div", { "class": "d-body" }, [el("div", { "class": "d-columns" }, [
      el("div", { "class": "d-side" }, [el("h3", { text: "Agents" }), agentsList, el("h3", { text: "Chats" }), chatList]),
      viewer,
    ])]),
  ]);
  var buttons = document.getElementById("desk-buttons");
  var panels = document.getElementById("desk-panels");
  if (buttons && panels) { buttons.appendChild(deskBtn); panels.appendChild(drawer); }

  var desk = { open: false, agents: [], watched: null, refreshTimer: null };

  function showDesk(open) {
    desk.open = open;
    drawer.hidden = !open;
    deskBtn.setAttribute("aria-expanded", String(open));
    var bar = document.querySelector(".topbar");
    if (bar) drawer.style.top = Math.round(bar.getBoundingClientRect().bottom) + "px"; // the bar may wrap
    if (open) { refresh(); heading.focus(); } else stopWatching();
  }
  deskBtn.addEventListener("click", function () { showDesk(!desk.open); });
  hideBtn.addEventListener("click", function () { showDesk(false); });

  function refresh() { if (desk.open) send({ type: "list_chats" }); }

  /** Queues changed: list again, at most once a second. */
  function refreshSoon() {
    if (!desk.open || desk.refreshTimer) return;
    desk.refreshTimer = setTimeout(function () { desk.refreshTimer = null; refresh(); }, 1000);
  }

  function renderDesk(frame) {
    desk.agents = frame.agents || [];
    agentsList.textContent = "";
    desk.agents.forEach(function (a) {
      agentsList.appendChild(el("li", { "class": "ca-agent", "data-status": a.status }, [
        el("strong", { text: a.name }), " · " + a.status + " · " + a.chats + "/" + a.capacity + " chats"]));
    });
    chatList.textContent = "";
    (frame.chats || []).forEach(function (c) { chatList.appendChild(chatRow(c)); });
    if (!(frame.chats || []).length) chatList.appendChild(el("li", { "class": "d-note", text: "No live chats." }));
  }

  function chatRow(c) {
    var entry = c.entry || {};
    var where = c.state === "agent" ? "With " + (c.agent ? c.agent.name : "an agent") : "Waiting";
    if (c.transfer_pending) where += " · transfer pending";
    var target = el("select", { "class": "c-select", "aria-label": "Reassign to" });
    desk.agents.forEach(function (a) {
      if (!c.agent || a.id !== c.agent.id) target.appendChild(el("option", { value: "agent:" + a.id, text: a.name }));
    });
    if (c.state === "agent") {
      QUEUES.forEach(function (q) { target.appendChild(el("option", { value: "queue:" + q.id, text: q.label + " queue" })); });
    }
    var label = T.humanize(entry.reason) || "Chat";
    return el("li", { "class": "d-item ca-chat", "data-conversation": c.conversation_id, "data-state": c.state }, [
      el("div", { "class": "d-item-top" }, [el("strong", { text: label }),
        el("span", { "class": "d-age", text: QUEUE_LABEL[entry.queue] || entry.queue || "" })]),
      el("span", { "class": "ca-where", text: where }),
      el("div", { "class": "ca-row-actions" }, [
        el("button", { type: "button", "class": "c-btn", text: "Read", "aria-label": "Read " + label + " without joining",
          onclick: function () { watch(c.conversation_id, label); } }),
        target,
        el("button", { type: "button", "class": "c-btn", text: "Reassign", disabled: !target.options.length,
          onclick: function () { reassign(c.conversation_id, target.value); } }),
      ]),
    ]);
  }

  function reassign(conversationId, value) {
    var parts = String(value).split(":");
    var frame = { type: "reassign", conversation_id: conversationId };
    if (parts[0] === "agent") frame.agent_id = Number(parts[1]); else frame.queue = parts[1];
    send(frame);
  }

  function watch(conversationId, label) {
    stopWatching();
    desk.watched = conversationId;
    viewer.textContent = "";
    viewer.appendChild(el("h3", { "class": "d-title", text: "Reading: " + label }));
    viewer.appendChild(el("p", { "class": "d-note", text: "Read-only: the shopper and the agent do not see that you are reading." }));
    viewer.appendChild(el("ol", { "class": "d-transcript ca-transcript", "aria-label": "Transcript (read-only)" }));
    send({ type: "watch", conversation_id: conversationId });
  }

  function stopWatching() {
    if (desk.watched) send({ type: "unwatch", conversation_id: desk.watched });
    desk.watched = null;
  }

  function addLine(m) {
    var list = viewer.querySelector(".ca-transcript");
    if (!list || (m.id && list.querySelector('[data-id="' + String(m.id).replace(/["\\]/g, "") + '"]'))) return;
    var who = SENDER[m.sender] || "Notice";
    if (m.agent_name && (m.sender === "agent" || m.sender === "note")) who += " · " + m.agent_name;
    var li = el("li", { "class": "ca-line ca-from-" + m.sender, "data-id": m.id || "" }, [
      el("strong", { text: who + ": " }), T.appendText(el("span", {}), m.text || "")]);
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  // ---- frames -------------------------------------------------------------------------

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        me.id = frame.agent && frame.agent.id;
        me.role = frame.agent && frame.agent.role;
        showStatus(frame.agent && frame.agent.status);
        deskBtn.hidden = me.role !== "supervisor";
        roster = {};
        (frame.agents || []).forEach(function (a) { roster[a.id] = a; });
        rosterChanged();
        (frame.chats || []).forEach(function (c) { markPending(c.conversation_id, c.transfer_pending); });
        return refresh();
      case "agent_status":
        if (frame.agent && frame.agent.id === me.id && frame.status !== "offline") showStatus(frame.status);
        if (frame.agent && frame.status === "offline") delete roster[frame.agent.id];
        else if (frame.agent) roster[frame.agent.id] = { id: frame.agent.id, name: frame.agent.name, status: frame.status };
        rosterChanged();
        return refreshSoon();
      case "transfer_pending": return markPending(frame.conversation_id, frame);
      case "live_chats": return renderDesk(frame);
      case "watching":
        if (frame.chat && frame.chat.conversation_id === desk.watched) (frame.chat.transcript || []).forEach(addLine);
        return undefined;
      case "message":
        if (frame.conversation_id && frame.conversation_id === desk.watched) addLine(frame);
        return undefined;
      case "reassigned": return refresh();
      case "queues": case "claimed": case "chat_ended": return refreshSoon();
      default: return undefined;
    }
  }

  global.KaraAssign = { onFrame: onFrame, me: function () { return me.id; } };
})(window);
