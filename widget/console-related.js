/*
 * Agent console: the shopper's past conversations, in a chat's context panel
 * (GET /api/conversations/<id>/related: the same verified order, verified
 * email or phone, browser, or ticket email; every reason is shown). Each opens on the history page (/console/history?c=<id>) in a new
 * tab; window.open gives that tab a copy of this tab's session, so it is signed in.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var D = global.KaraDesk;
  var el = T.el;

  function when(iso) { return String(iso || "").replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC"); }

  function Related(pane, ctx) {
    var list = el("ul", { class: "cr-list", "aria-label": "Past conversations of this shopper" });
    var none = el("p", { class: "cl-none", text: "Looking for earlier conversations…" });
    var section = el("section", { class: "cl-labels cr-related" }, [el("h3", { text: "Past conversations" }), list, none]);
    var side = pane.panel.querySelector(".c-context");
    var actions = side && side.querySelector(".c-actions");
    var before = actions && actions.previousElementSibling; // the "Actions" heading
    if (side) side.insertBefore(section, before || null);
    D.api(ctx, "/api/conversations/" + encodeURIComponent(pane.id) + "/related").then(function (res) {
      var found = res.status === 200 ? res.body.conversations || [] : [];
      none.textContent = res.status === 200 ? "No earlier conversations found." : "Past conversations are not available.";
      none.hidden = found.length > 0;
      found.forEach(function (c) {
        var href = ctx.base + "/console/history?c=" + encodeURIComponent(c.conversation_id);
        var link = el("a", { href: href, target: "_blank", text: when(c.created_at) });
        link.addEventListener("click", function (e) { e.preventDefault(); global.open(href, "_blank"); });
        list.appendChild(el("li", { "data-conversation": c.conversation_id }, [link, el("span", { class: "cr-match", text: (c.reasons || [c.match]).join(" · ") })]));
      });
    }).catch(function () { none.textContent = "Past conversations are not available."; });
  }

  if (D) D.part(function (pane, ctx) { pane.related = new Related(pane, ctx); });
})(window);
