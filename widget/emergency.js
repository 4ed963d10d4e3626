/*
 * Provider emergency page: mirrors the chat's progress in the notice beside it
 * ("connecting", "in triage", "waiting", "on-call paged", "joined"), and shows
 * the line's availability when the gateway serves the public policy facts at
 * /api/policy. It reads only events the widget dispatches on `document`.
 */
(function () {
  "use strict";

  var status = document.getElementById("em-status");
  var paged = false;

  function show(text, isPaged) {
    status.textContent = text;
    status.classList.toggle("is-paged", !!isPaged);
  }

  document.addEventListener("kara-chat:state", function (e) {
    var d = e.detail || {};
    if (d.line !== "emergency") return;
    if (d.state === "agent") show((d.agent || "The on-call person") + " has joined your chat.", false);
    else if (d.state === "closed") show("This emergency chat has ended.", false);
    else if (paged) return; // keep the paged notice until someone joins
    // Only the gateway's `paged` frame may say a page went out (see kara-chat:paged).
    else if (d.state === "waiting") show("You are in the emergency queue: the support team sees your chat now. If nobody joins quickly, we call the on-call person and tell you here.", false);
    else show("Emergency triage in progress. Answer the assistant's questions.", false);
  });

  document.addEventListener("kara-chat:paged", function (e) {
    var d = e.detail || {};
    if (d.line !== "emergency") return;
    paged = true;
    var when = d.ts ? new Date(d.ts) : new Date();
    var clock = isNaN(when.getTime()) ? "" : " at " + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    show("On-call person paged" + clock + ". Stay on this chat: they will join here.", true);
  });

  // Optional: public policy facts from the gateway (e.g. {"always_open": "..."}).
  fetch("/api/policy", { headers: { Accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (facts) {
      if (!facts || typeof facts.always_open !== "string") return;
      var el = document.getElementById("em-availability");
      el.textContent = "Open " + facts.always_open + ".";
      el.hidden = false;
    })
    .catch(function () { /* not served: the bot states availability in the chat */ });
})();
