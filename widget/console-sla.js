/*
 * Agent console: the first-response countdown, SLA alerts and the
 * supervisors' Reports link. Exposed as `window.KaraSla`; console.js hands it
 * every frame (`KaraSla.onFrame(frame)`, after its own handling).
 *
 * - Each waiting chat (`queues`, `handoff` entries) and each claimed chat the
 *   agent has not answered yet (`welcome.chats`, `claimed`) carries `sla_due`,
 *   its queue's first-response deadline (handoff/PROTOCOL.md). The queue card
 *   and the chat's tab and header show the time left ("SLA 4:32 left"), and
 *   past it a breach mark: a warning sign, the words "SLA breached" and how
 *   long over, on a red outline (never colour alone). An agent message in the
 *   chat stops its countdown.
 * - `sla_alert` frames (breach, silent agent, chat requeued) are listed above
 *   the queues, newest first, and read out (emergencies assertively).
 * - The Reports link shows only for a supervisor (the role of the login
 *   answer and the welcome); the reports routes check the role themselves.
 *
 * Deadlines are absolute (ISO, UTC): the browser's clock is corrected by the
 * gateway's when they differ by more than two seconds (from an entry's
 * `enqueued_at` and `waited_s`).
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var waitingDue = {}; // conversation_id -> deadline (ms) of a waiting chat
  var chatDue = {}; // conversation_id -> deadline (ms) of a chat claimed here, not answered yet
  var breachedSeen = {}; // conversation_id -> true once its breach was announced
  var skewMs = 0; // gateway clock - browser clock
  var MAX_ALERTS = 6;

  var $ = function (id) { return document.getElementById(id); };

  function parse(iso) {
    var t = iso ? Date.parse(iso) : NaN;
    return isNaN(t) ? null : t;
  }

  function now() { return Date.now() + skewMs; }

  function learnSkew(entry) {
    var enq = parse(entry.enqueued_at);
    if (enq === null || typeof entry.waited_s !== "number") return;
    var skew = enq + entry.waited_s * 1000 - Date.now();
    skewMs = Math.abs(skew) > 2000 ? skew : 0;
  }

  function setEntries(queues) {
    waitingDue = {};
    Object.keys(queues || {}).forEach(function (q) {
      (queues[q] || []).forEach(addEntry);
    });
  }

  function addEntry(entry) {
    if (!entry || !entry.conversation_id) return;
    learnSkew(entry);
    var due = parse(entry.sla_due);
    if (due !== null) waitingDue[entry.conversation_id] = due;
  }

  function addChat(chat) {
    if (!chat || !chat.conversation_id) return;
    delete waitingDue[chat.conversation_id];
    var due = parse(chat.sla_due);
    if (due !== null) chatDue[chat.conversation_id] = due;
    else delete chatDue[chat.conversation_id];
  }

  // ---- the countdown ---------------------------------------------------------

  /** {text, breached} for a deadline; `short` for a chat tab ("⚠ Overdue 0:12", "4:32 left"). */
  function label(due, short) {
    var left = Math.round((due - now()) / 1000);
    if (left >= 0) return { text: (short ? "" : "SLA ") + T.formatDuration(left) + " left", breached: false };
    return { text: short ? "⚠ Overdue " + T.formatDuration(-left) : "⚠ SLA breached · " + T.formatDuration(-left) + " over", breached: true };
  }

  /** Put (or update) the countdown badge in `parent`, after `after` (or last);
   * null `due` removes it. */
  function badge(parent, due, where, after) {
    if (!parent) return null;
    var node = parent.querySelector(":scope > .c-sla");
    if (due === null || due === undefined) {
      if (node) node.remove();
      return null;
    }
    if (!node) {
      node = document.createElement("span");
      node.className = "c-sla c-sla-" + where;
      node.setAttribute("data-sla", where);
      parent.insertBefore(node, after ? after.nextSibling : null);
    }
    var l = label(due, where === "tab");
    if (node.textContent !== l.text) node.textContent = l.text;
    node.classList.toggle("c-sla-breached", l.breached);
    node.title = l.breached ? "Past this queue's first-response target" : "Time left to this queue's first-response target";
    return l;
  }

  function render() {
    document.querySelectorAll("#queues .c-entry[data-conversation]").forEach(function (card) {
      var cid = card.getAttribute("data-conversation");
      var l = badge(card, waitingDue[cid], "queue", card.querySelector(".c-entry-top"));
      card.classList.toggle("c-entry-breached", !!(l && l.breached));
      if (l && l.breached && !breachedSeen[cid]) {
        breachedSeen[cid] = true;
        announce($("live"), "SLA breached: a chat waiting in the " + (card.getAttribute("data-queue") || "") + " queue");
      }
    });
    var con = global.KaraConsole;
    if (con && con.pane) {
      con.chats().forEach(function (cid) {
        var pane = con.pane(cid);
        if (!pane) return;
        var due = pane.isEnded ? null : chatDue[cid];
        badge(pane.tab, due, "tab");
        badge(pane.panel.querySelector(".c-pane-head"), due, "chat");
      });
    }
    // Supervisors' pages: shown to supervisors only (each page checks the role itself).
    var session = global.KaraSession && global.KaraSession.load();
    var supervisor = !!(session && session.agent && session.agent.role === "supervisor");
    [["reports-link", "/console/reports"], ["admin-link", "/console/admin"]].forEach(function (page) {
      var link = $(page[0]);
      if (!link) return;
      link.hidden = !supervisor;
      var href = page[1] + global.location.search; // keeps ?gateway=
      if (link.getAttribute("href") !== href) link.setAttribute("href", href);
    });
  }

  // ---- alerts ------------------------------------------------------------------

  var QUEUE_NAME = { emergency: "Emergency", security: "Security", general: "General", disputes: "Disputes" };

  function alertText(a) {
    var chat = (QUEUE_NAME[a.queue] || a.queue || "A") + " chat" + (a.reason ? " (" + T.humanize(a.reason) + ")" : "");
    var who = a.agent && a.agent.name ? a.agent.name : "its agent";
    if (a.kind === "breach") {
      return "SLA breached: " + chat + (a.state === "agent" ? " claimed by " + who + ", not answered" : " still waiting") +
        " past its first-response target.";
    }
    if (a.kind === "silent") return "No answer: " + who + " has not replied in the " + chat + " for " + T.formatDuration(a.silent_s) + ".";
    if (a.kind === "requeued") return "Back in the queue: the " + chat + " had no answer from " + who + " for " + T.formatDuration(a.silent_s) + ".";
    return "SLA alert: " + chat + ".";
  }

  function showAlert(a) {
    var box = $("sla-alerts");
    if (!box) return;
    var list = box.querySelector("ul");
    var li = document.createElement("li");
    li.className = "c-sla-alert c-sla-alert-" + String(a.kind).replace(/[^a-z]/g, "") + (a.queue === "emergency" ? " c-sla-alert-emergency" : "");
    var text = document.createElement("p");
    text.textContent = alertText(a);
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "c-btn";
    dismiss.textContent = "Dismiss";
    dismiss.setAttribute("aria-label", "Dismiss alert: " + text.textContent);
    dismiss.addEventListener("click", function () { li.remove(); box.hidden = list.children.length === 0; });
    li.appendChild(text);
    li.appendChild(dismiss);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_ALERTS) list.removeChild(list.lastChild);
    box.hidden = false;
    announce(a.queue === "emergency" ? $("alert-live") : $("live"), text.textContent);
    var N = global.KaraNotify; // a desktop notification when the agent turned them on (console-notify.js)
    if (N && N.show) N.show(text.textContent.split(":")[0], text.textContent, "sla-" + a.kind + "-" + a.conversation_id, { urgent: a.queue === "emergency" });
  }

  function announce(region, text) {
    if (!region) return;
    var p = document.createElement("p");
    p.textContent = text;
    region.appendChild(p);
    while (region.children.length > 3) region.removeChild(region.firstChild);
  }

  // ---- frames -----------------------------------------------------------------

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        (frame.chats || []).forEach(addChat);
        if (frame.queues) setEntries(frame.queues);
        break;
      case "queues": setEntries(frame.queues); break;
      case "handoff": addEntry(frame.entry); break;
      case "claimed": addChat(frame.chat); break;
      case "message":
        if (frame.sender === "agent" && frame.conversation_id) delete chatDue[frame.conversation_id];
        break;
      case "chat_ended":
        delete chatDue[frame.conversation_id];
        break;
      case "sla_alert": showAlert(frame); break;
      default: return;
    }
    render();
  }

  setInterval(render, 1000);

  global.KaraSla = { onFrame: onFrame, render: render };
})(window);
