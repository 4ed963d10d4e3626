/*
 * Kara Support Chat widget: "Email me this conversation" (handoff/desk/transcript_mail.py).
 *
 * A small control under the composer: the shopper gives an address and the
 * gateway emails the transcript, authorised by this conversation's own token.
 * Loaded by kara-widget.js with the other pieces; it attaches itself to each
 * chat when the widget says it is ready (`kara-chat:ready`), inside the
 * widget's shadow root, with its own stylesheet. The request is a CORS
 * "simple" one (text/plain body, no custom header): no preflight, so it works
 * from a shop on another origin the gateway allows. Text only, never HTML.
 * Exposed as `window.KaraWidgetTranscript`.
 */
(function (global) {
  "use strict";

  if (global.KaraWidgetTranscript) return;

  var T = global.KaraText;
  var EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  var here = (document.currentScript && new URL(".", document.currentScript.src).href) || "/widget/";

  function attach(chat) {
    var view = chat.view;
    if (!view || !view.panel || view.transcriptBox || chat.config.line === "emergency") return;
    var el = function (tag, attrs, children) { return T.el(tag, attrs, children, document); };
    var base = global.KaraProtocol.httpOrigin(chat.config.gateway);

    var toggle = el("button", { type: "button", "class": "kw-link-btn kw-tx-toggle", "aria-expanded": "false",
      text: "Email me this conversation" });
    var email = el("input", { type: "email", "class": "kw-field", autocomplete: "email", "aria-label": "Email address for the transcript",
      placeholder: "Your email address" });
    var send = el("button", { type: "submit", "class": "kw-primary kw-tx-send", text: "Send" });
    var note = el("p", { "class": "kw-tx-note", role: "status" });
    var form = el("form", { "class": "kw-tx-form", novalidate: true, hidden: true }, [email, send]);
    var box = el("div", { "class": "kw-tx" }, [toggle, form, note]);
    view.root.appendChild(el("link", { rel: "stylesheet", href: here + "widget-transcript.css" }));
    view.panel.insertBefore(box, view.newChatBtn || null);
    view.transcriptBox = box;

    toggle.addEventListener("click", function () {
      var opening = form.hidden;
      form.hidden = !opening;
      toggle.setAttribute("aria-expanded", String(opening));
      note.textContent = "";
      if (opening) email.focus();
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var address = email.value.trim();
      var token = chat.session && chat.session.token;
      if (!token) { note.textContent = "Start a conversation first."; return; }
      if (!EMAIL_RE.test(address)) { note.textContent = "Please enter a valid email address."; email.focus(); return; }
      send.disabled = true;
      note.textContent = "Sending…";
      fetch(base + "/api/transcript-email", {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: JSON.stringify({ token: token, email: address }),
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, body: body }; });
      }, function () {
        return { ok: false, body: { error: "Cannot reach support right now. Please try again." } };
      }).then(function (res) {
        send.disabled = false;
        if (res.ok && res.body.sent) {
          note.textContent = "Sent to " + address + ".";
          form.hidden = true;
          toggle.setAttribute("aria-expanded", "false");
        } else {
          note.textContent = (res.body.error || "The conversation was not sent.").replace(/^not sent: .*$/, "The conversation could not be emailed right now. Please try again later.");
        }
      });
    });
  }

  document.addEventListener("kara-chat:ready", function (e) {
    var chat = global.KaraChat && global.KaraChat.find(e.detail && e.detail.line);
    if (chat) attach(chat);
  });

  global.KaraWidgetTranscript = { attach: attach };
})(window);
