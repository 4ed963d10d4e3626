/*
 * Kara Support reports page (/console/reports), for supervisors.
 *
 * Signs in with widget/page-signin.js (POST /api/login, or the console's
 * session of this tab), asks GET /api/reports?from=&to= with the bearer
 * token and draws the figures with widget/charts.js. The gateway decides who
 * may read them: 401 -> sign in again, 403 -> "for supervisors". Every text
 * from the server goes in as a text node (KaraText.el / textContent).
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var C = global.KaraCharts;
  var S = global.KaraPageSignIn; // widget/page-signin.js: sign-in, session, authorised fetch
  var el = T.el;
  var shown = null; // the {from, to} of the report on screen

  function $(id) { return document.getElementById(id); }
  var ui = {
    rangeForm: $("range-form"), from: $("range-from"), to: $("range-to"),
    show: $("range-show"), csv: $("range-csv"), note: $("range-note"), error: $("report-error"),
    report: $("report"), title: $("report-title"), tiles: $("tiles"), charts: $("charts"),
    breaches: document.querySelector("#breaches tbody"), breachesTable: $("breaches"), breachesNone: $("breaches-none"),
    comments: $("comments"), commentsNone: $("comments-none"),
    missed: $("missed"), missedNone: $("missed-none"), missedCount: $("missed-count"),
  };

  // ---- formatting (the same words as `python -m handoff report`) ------------

  function seconds(v) {
    if (v === null || v === undefined) return "–";
    if (v < 120) return Math.round(v) + " s";
    return v < 7200 ? (v / 60).toFixed(1) + " min" : (v / 3600).toFixed(1) + " h";
  }
  function share(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
  function when(iso) {
    if (!iso) return "not answered";
    return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function day(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }

  // ---- the report ------------------------------------------------------------

  function range() { return { from: ui.from.value, to: ui.to.value }; }

  function ask(path, r) {
    var query = "?from=" + encodeURIComponent(r.from) + "&to=" + encodeURIComponent(r.to);
    return S.api(path + query, {
      raw: true,
      forbidden: "Reports are for supervisors. Ask a supervisor to share them.",
      failure: function (status, b) {
        return b.error ? "Cannot show that range: " + b.error + "." : "The report failed (" + status + ").";
      },
    });
  }

  function failed(err) {
    if (S.showError(ui.note, ui.error, err)) ui.report.hidden = true;
  }

  function load() {
    var r = range();
    if (!r.from || !r.to) { failed(new Error("Choose the first and the last day.")); return; }
    ui.error.hidden = true;
    ui.show.disabled = true;
    ui.note.textContent = "Loading…";
    try { global.history.replaceState(null, "", "?from=" + r.from + "&to=" + r.to); } catch (e) { /* file: or old browser */ }
    Promise.all([ask("/api/reports", r), ask("/api/missed", r)])
      .then(function (answers) { return Promise.all(answers.map(function (res) { return res.json(); })); })
      .then(function (bodies) { shown = r; render(bodies[0]); renderMissed(bodies[1]); ui.note.textContent = ""; })
      .catch(failed)
      .then(function () { ui.show.disabled = false; });
  }

  ui.rangeForm.addEventListener("submit", function (event) { event.preventDefault(); load(); });

  ui.csv.addEventListener("click", function () {
    var r = range();
    ask("/api/reports.csv", r)
      .then(function (res) { return res.blob(); })
      .then(function (blob) {
        var link = el("a", { href: URL.createObjectURL(blob), download: "kara-report-" + r.from + "-" + r.to + ".csv" });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
      })
      .catch(failed);
  });

  function tile(label, value, detail) {
    ui.tiles.appendChild(el("div", { "class": "r-tile", "data-tile": label }, [
      el("dt", { text: label }),
      el("dd", {}, [String(value)].concat(detail ? [el("small", { text: detail })] : [])),
    ]));
  }

  function queueNames(report) {
    return Object.keys(report.queues).filter(function (q) { return q !== "all"; });
  }

  function render(report) {
    var p = report.period;
    ui.title.textContent = "Support report " + p.from + " to " + p.to + " (" + p.timezone + " days)";
    ui.tiles.textContent = "";
    ui.charts.textContent = "";
    var all = report.queues.all;
    tile("Conversations", report.conversations);
    tile("Resolved by the assistant alone", share(report.resolved_alone_share), report.resolved_alone + " conversations");
    tile("Handed to a person", share(report.handoff_rate), report.handed_off + " conversations");
    tile("Answered within target", share(all.sla.share), all.sla.met + " of " + (all.sla.met + all.sla.breached));
    tile("CSAT", all.csat.mean === null ? "–" : all.csat.mean.toFixed(2), all.csat.n + " ratings");
    tile("Offline tickets", report.tickets.all || 0);
    if (report.tickets_answered) { // null: a database without the ticket inbox (migration 0003)
      var answer = report.ticket_answer_s.all;
      tile("Tickets answered", report.tickets_answered.all || 0,
        answer && answer.n ? "time to answer p50 " + seconds(answer.p50) + ", p95 " + seconds(answer.p95) : "");
    }

    var queues = queueNames(report);
    C.bars(ui.charts, {
      title: "Handoffs by queue",
      rows: queues.map(function (q) { var n = report.queues[q].requests; return { label: T.humanize(q), value: n, text: String(n) }; }),
    });
    var reasons = {};
    report.handoffs.forEach(function (h) { reasons[h.reason] = (reasons[h.reason] || 0) + h.requests; });
    C.bars(ui.charts, {
      title: "Handoffs by reason",
      rows: Object.keys(reasons).sort(function (a, b) { return reasons[b] - reasons[a] || (a < b ? -1 : 1); })
        .map(function (why) { return { label: T.humanize(why), value: reasons[why], text: String(reasons[why]) }; }),
      empty: "No handoffs in this period.",
    });
    [["first_response_s", "First human response (p50 / p95, log scale)"], ["wait_s", "Wait in queue (p50 / p95, log scale)"]].forEach(function (fig) {
      C.pairs(ui.charts, {
        title: fig[1],
        series: ["p50", "p95"],
        log: true,
        rows: queues.concat(["all"]).filter(function (q) { return report.queues[q][fig[0]].n; }).map(function (q) {
          var s = report.queues[q][fig[0]];
          return { label: q === "all" ? "All queues" : T.humanize(q), values: [s.p50, s.p95], texts: [seconds(s.p50), seconds(s.p95)] };
        }),
      });
    });
    C.stacked(ui.charts, {
      title: "Answered within the first-response target",
      parts: ["within target", "breached"],
      rows: queues.map(function (q) {
        var s = report.queues[q].sla;
        var counted = s.met + s.breached;
        return {
          label: T.humanize(q) + " (" + seconds(report.targets_s[q]) + ")",
          values: [s.met, s.breached],
          text: counted ? share(s.share) + " (" + s.met + "/" + counted + ")" : "none due",
        };
      }),
    });
    var agents = Object.keys(report.agents).filter(function (a) { return a !== "all" && report.agents[a].csat.n; }).sort();
    C.bars(ui.charts, {
      title: "CSAT by agent (average of 1-5)",
      rows: agents.map(function (a) {
        var c = report.agents[a].csat;
        return { label: a, value: c.mean, text: c.mean.toFixed(2) + " (" + c.n + (c.n === 1 ? " rating)" : " ratings)") };
      }),
      empty: "No ratings in this period.",
    });
    var dist = all.csat.distribution;
    C.columns(ui.charts, {
      title: "CSAT distribution (all ratings)",
      rows: ["1", "2", "3", "4", "5"].map(function (score) { return { label: score + " ★", value: dist[score] || 0, text: String(dist[score] || 0) }; }),
      empty: "No ratings in this period.",
    });
    var ticketQueues = Object.keys(report.tickets).filter(function (q) { return q !== "all"; }).sort();
    C.bars(ui.charts, {
      title: "Offline tickets by queue",
      rows: ticketQueues.map(function (q) {
        var n = report.tickets[q];
        return { label: q === "none" ? "From the assistant" : T.humanize(q), value: n, text: String(n) };
      }),
      empty: "No tickets in this period.",
    });

    ui.breaches.textContent = "";
    report.breaches.forEach(function (b) {
      ui.breaches.appendChild(el("tr", { "data-conversation": b.conversation_id }, [
        el("td", { text: b.conversation_id }), el("td", { text: T.humanize(b.queue) }), el("td", { text: when(b.asked_at) }),
        el("td", { text: b.deadline ? when(b.deadline) : "–" }), el("td", { text: when(b.answered_at) }),
      ]));
    });
    ui.breachesTable.hidden = !report.breaches.length;
    ui.breachesNone.hidden = !!report.breaches.length;
    ui.comments.textContent = "";
    report.comments.forEach(function (c) {
      ui.comments.appendChild(el("li", {}, [
        el("strong", { text: c.score + "/5 " }), c.agent + " (" + T.humanize(c.queue) + ", " + c.conversation_id + "): ", c.text,
      ]));
    });
    ui.comments.hidden = !report.comments.length;
    ui.commentsNone.hidden = !!report.comments.length;
    ui.report.hidden = false;
  }

  function renderMissed(found) {
    ui.missed.textContent = "";
    ui.missedCount.textContent = String(found.messages);
    found.groups.forEach(function (g) {
      var item = el("li", { "data-words": g.words }, [el("strong", { text: g.count + "× " }), "words: " + g.words]);
      g.examples.forEach(function (text) { item.appendChild(el("q", { text: text })); });
      item.appendChild(el("span", { "class": "r-ids", text: "conversations: " + g.conversations.join(" ") }));
      ui.missed.appendChild(item);
    });
    ui.missed.hidden = !found.groups.length;
    ui.missedNone.hidden = !!found.groups.length;
  }

  // ---- start -------------------------------------------------------------------

  (function start() {
    var params = new URLSearchParams(global.location.search);
    var today = new Date();
    ui.from.value = params.get("from") || day(new Date(today.getFullYear(), today.getMonth(), 1));
    ui.to.value = params.get("to") || day(today);
    S.start({ onSignedIn: load, onSignedOut: function () { ui.report.hidden = true; } });
  })();

  global.KaraReports = { shown: function () { return shown; } };
})(window);
