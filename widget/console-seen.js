/*
 * Agent console: read receipts (PROTOCOL.md "Seen"). While a chat is in
 * front (its tab selected, the page visible, the chat not ended), the
 * console tells the gateway the shopper's last message was read:
 * `{"type": "seen", "conversation_id", "up_to": <message id>}`; the
 * shopper's widget shows "Seen" under it. Sent once per message, and again
 * when the shopper comes back (receipts are not stored). A KaraDesk part.
 */
(function (global) {
  "use strict";

  var D = global.KaraDesk;
  if (!D || !global.MutationObserver) return;

  function attach(pane, ctx) {
    if (!ctx.send) return;
    var sent = null; // the id last reported for this chat

    function check() {
      if (pane.isEnded || pane.panel.hidden || document.hidden || !pane.panel.isConnected) return;
      var mine = pane.panel.querySelectorAll(".c-from-shopper[data-id]");
      var last = mine.length ? mine[mine.length - 1].getAttribute("data-id") : null;
      if (!last || last === sent) return;
      sent = last;
      ctx.send({ type: "seen", conversation_id: pane.id, up_to: last });
    }

    new MutationObserver(check).observe(pane.panel, { childList: true, subtree: true, attributes: true, attributeFilter: ["hidden"] });
    document.addEventListener("visibilitychange", check);
    document.addEventListener("kara:shopper-back", function (e) {
      if (e.detail === pane.id) { sent = null; check(); }
    });
    setTimeout(check, 0); // a chat opened in front
  }

  D.part(attach);
})(window);
