/*
 * Agent console: the live queues. Draws the `queues` frame as one list per
 * queue, in priority order (emergency first, then the queue's own priority,
 * then the longest wait), with a waiting clock that ticks every second.
 * Exposed as `window.KaraQueueView`.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var el = T.el;

  var QUEUES = [
    { id: "emergency", label: "Emergency" },
    { id: "security", label: "Security" },
    { id: "disputes", label: "Disputes" },
    { id: "general", label: "General" },
  ];
  var QUEUE_LABEL = {};
  QUEUES.forEach(function (q) { QUEUE_LABEL[q.id] = q.label; });

  /** Context keys worth a line of their own, in this order, with labels. */
  var CONTEXT_LABELS = [
    ["role", "Role"],
    ["order_number", "Order"],
    ["line", "Line"],
    ["order_request", "Request"],
    ["order_verified", "Order verified"],
  ];

  function contextPairs(context) {
    var out = [];
    var seen = {};
    context = context && typeof context === "object" ? context : {};
    CONTEXT_LABELS.forEach(function (kl) {
      seen[kl[0]] = true;
      var v = context[kl[0]];
      if (v !== undefined && v !== null && v !== "") out.push([kl[1], v]);
    });
    Object.keys(context).forEach(function (k) {
      if (seen[k]) return;
      var v = context[k];
      if (v === undefined || v === null || v === "") return;
      var label = k.replace(/_/g, " ").replace(/^./, function (c) { return c.toUpperCase(); });
      out.push([label, v]);
    });
    return out.map(function (p) {
      var v = p[1];
      if (typeof v === "boolean") v = v ? "yes" : "no";
      else if (typeof v === "number" && /confidence/i.test(p[0]) && v >= 0 && v <= 1) v = Math.round(v * 100) + "%";
      else if (typeof v === "number") v = String(Math.round(v * 100) / 100);
      else if (typeof v === "object") v = JSON.stringify(v);
      return [p[0], String(v)];
    });
  }

  function QueueView(container, handlers) {
    var self = this;
    this.container = container;
    this.handlers = handlers;
    this.entries = []; // [{entry, receivedAt, clockEl}]
    this.known = {}; // conversation_id -> true, to mark brand-new arrivals
    this.first = true;
    this.sections = {};
    QUEUES.forEach(function (q) {
      var count = el("span", { class: "c-count", text: "0" });
      var list = el("ol", { class: "c-entries", "aria-label": q.label + " queue" });
      var empty = el("p", { class: "c-empty-queue", text: "Nobody waiting" });
      var section = el("section", { class: "c-queue c-queue-" + q.id, "data-queue": q.id }, [
        el("h3", { class: "c-queue-title" }, [q.label + " ", count]),
        empty,
        list,
      ]);
      self.sections[q.id] = { section: section, count: count, list: list, empty: empty };
      container.appendChild(section);
    });
    this.timer = setInterval(function () { self.tick(); }, 1000);
  }

  /** Order: queue priority (highest first), then the longest wait first. */
  function sortEntries(list) {
    return list.slice().sort(function (a, b) {
      var pa = Number(a.priority) || 0;
      var pb = Number(b.priority) || 0;
      if (pa !== pb) return pb - pa;
      return (Number(b.waited_s) || 0) - (Number(a.waited_s) || 0);
    });
  }

  QueueView.prototype.render = function (queues) {
    var self = this;
    var now = Date.now();
    var seenNow = {};
    this.entries = [];
    QUEUES.forEach(function (q) {
      var s = self.sections[q.id];
      var list = sortEntries(Array.isArray(queues && queues[q.id]) ? queues[q.id] : []);
      s.list.textContent = "";
      s.count.textContent = String(list.length);
      s.empty.hidden = list.length > 0;
      s.section.classList.toggle("c-has-waiting", list.length > 0);
      list.forEach(function (entry) {
        var isNew = !self.first && !self.known[entry.conversation_id];
        seenNow[entry.conversation_id] = true;
        var li = self._entry(entry, q.id, isNew);
        s.list.appendChild(li.node);
        self.entries.push({ entry: entry, queueId: q.id, receivedAt: now, clockEl: li.clock });
      });
    });
    this.known = seenNow;
    this.first = false;
  };

  QueueView.prototype._entry = function (entry, queueId, isNew) {
    var self = this;
    var emergency = queueId === "emergency";
    var clock = el("span", { class: "c-wait", text: T.formatDuration(entry.waited_s) });
    var ctx = contextPairs(entry.context);
    var claim = el("button", {
      type: "button",
      class: "c-btn c-claim" + (emergency ? " c-btn-danger" : ""),
      "aria-label": "Claim " + (emergency ? "emergency " : "") + "chat: " + (T.humanize(entry.reason) || "no reason given"),
      text: "Claim",
      onclick: function () { claim.disabled = true; claim.textContent = "Claiming…"; self.handlers.onClaim(entry, claim); },
    });
    var mine = self.handlers.me ? self.handlers.me() : null;
    var transfer = transferTag(entry, mine, claim);
    var node = el("li", {
      class: "c-entry" + (emergency ? " c-entry-emergency" : "") + (isNew ? " c-entry-new" : ""),
      "data-conversation": entry.conversation_id,
      "data-queue": queueId,
    }, [
      el("div", { class: "c-entry-top" }, [
        emergency ? el("span", { class: "c-tag c-tag-emergency", text: "EMERGENCY" }) : el("span", { class: "c-tag", text: QUEUE_LABEL[queueId] || queueId }),
        // Its agent's connection was lost: the shopper already talked to a person and is waiting again.
        entry.requeued ? el("span", { class: "c-tag c-tag-requeued", title: "Its agent was disconnected; the shopper is back at the front of the queue.", text: "Agent lost" }) : null,
        transfer,
        el("span", { class: "c-wait-label" }, ["Waiting ", clock]),
      ]),
      el("p", { class: "c-reason", text: T.humanize(entry.reason) || "No reason given" }),
      entry.summary ? el("p", { class: "c-summary", text: entry.summary }) : null,
      ctx.length ? el("p", { class: "c-ctx-line", text: ctx.slice(0, 3).map(function (p) { return p[0] + ": " + p[1]; }).join(" · ") }) : null,
      claim,
    ]);
    return { node: node, clock: clock };
  };

  /** A transferred chat (its agent keeps it until taken): a tag, and no Claim
   * for the agent who transferred it nor while it is offered to someone else. */
  function transferTag(entry, mine, claim) {
    if (!entry.kept_by && !entry.offered_to) return null;
    var text = entry.offered_to ? "Offered to " + (entry.offered_to.id === mine ? "you" : entry.offered_to.name)
      : "Transfer from " + (entry.kept_by.id === mine ? "you" : entry.kept_by.name);
    if ((entry.kept_by && entry.kept_by.id === mine) || (entry.offered_to && entry.offered_to.id !== mine)) {
      claim.disabled = true;
      claim.setAttribute("data-locked", "true");
    }
    return el("span", { class: "c-tag c-tag-transfer", text: text });
  }

  /** Re-enable a claim button after an error (someone else got it, etc.). */
  QueueView.prototype.resetClaim = function (button) {
    if (!button || !button.isConnected || button.getAttribute("data-locked")) return;
    button.disabled = false;
    button.textContent = "Claim";
  };

  QueueView.prototype.tick = function () {
    var now = Date.now();
    this.entries.forEach(function (e) {
      var waited = (Number(e.entry.waited_s) || 0) + (now - e.receivedAt) / 1000;
      e.clockEl.textContent = T.formatDuration(waited);
    });
  };

  QueueView.prototype.count = function (queueId) {
    return this.entries.filter(function (e) { return !queueId || e.queueId === queueId; }).length;
  };

  global.KaraQueueView = QueueView;
  global.KaraQueueView.QUEUES = QUEUES;
  global.KaraQueueView.QUEUE_LABEL = QUEUE_LABEL;
  global.KaraQueueView.contextPairs = contextPairs;
})(window);
