/*
 * Agent console: private notes. A "Note" toggle in each chat's composer turns
 * the next Enter/Send into a `note` frame (PROTOCOL.md "Private notes"):
 * stored in the transcript, shown to agents only (styled apart, labelled
 * "Private note"), never to the shopper. Beside Transfer, "Note for the next
 * agent" goes with the `transfer` frame as its `note`. Registered as a
 * KaraDesk part (console-desk.js); ctx.send is the console's socket.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var D = global.KaraDesk;
  if (!D || !T) return;
  var el = T.el;

  function attach(pane, ctx) {
    if (!ctx.send) return;
    var reply = { placeholder: pane.input.getAttribute("placeholder"), label: pane.input.getAttribute("aria-label") };
    var toggle = el("button", {
      type: "button", class: "c-btn cn-toggle", text: "Note", "aria-pressed": "false",
      title: "Write a private note: agents only, the shopper never sees it",
    });
    function setNote(on) {
      toggle.setAttribute("aria-pressed", String(on));
      pane.composer.classList.toggle("cn-note-mode", on);
      pane.input.setAttribute("placeholder", on ? "Private note: agents only, the shopper never sees it" : reply.placeholder);
      pane.input.setAttribute("aria-label", on ? "Private note (agents only)" : reply.label);
      pane.sendBtn.textContent = on ? "Add note" : "Send";
    }
    toggle.addEventListener("click", function () {
      setNote(toggle.getAttribute("aria-pressed") !== "true");
      pane.input.focus();
    });
    pane.composer.insertBefore(toggle, pane.sendBtn);

    var send = pane.handlers.onSend;
    pane.handlers.onSend = function (id, text) {
      if (toggle.getAttribute("aria-pressed") !== "true") return send(id, text);
      ctx.send({ type: "note", conversation_id: id, text: text });
      setNote(false); // one note at a time: the next message goes to the shopper again
    };

    var transfer = pane.actions && pane.actions.querySelector(".c-transfer");
    if (!transfer) return;
    var handover = el("input", {
      type: "text", class: "c-input cn-transfer-note", maxlength: "2000",
      placeholder: "Note for the next agent (optional)", "aria-label": "Private note for the next agent",
    });
    transfer.appendChild(handover);
    pane.handlers.onTransfer = function (id, queue) {
      var note = handover.value.trim();
      ctx.send(note ? { type: "transfer", conversation_id: id, queue: queue, note: note }
        : { type: "transfer", conversation_id: id, queue: queue });
    };
  }

  D.part(attach);
})(window);
