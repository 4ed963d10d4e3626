/*
 * Kara Support Chat widget: files both ways (handoff/attachments/).
 *
 * A paperclip in the composer sends a photo (JPEG, PNG, WebP) or a PDF: the
 * file itself is the body of `POST /api/attachments?token=…` (the
 * conversation's own token), a CORS "simple" request (text/plain, no custom
 * header: no preflight, so it works from a shop on another origin the gateway
 * allows). The gateway decides what the file is by its bytes and says why it
 * refused one; that sentence is shown as it is, in plain words. A message
 * that carries an `attachment` is drawn here (`render`, called by
 * widget-view.js): a photo as a thumbnail that opens the full picture, a PDF
 * as a download link. DOM nodes only, never HTML. Exposed as
 * `window.KaraWidgetAttach`.
 */
(function (global) {
  "use strict";

  if (global.KaraWidgetAttach) return;

  var T = global.KaraText;
  var here = (document.currentScript && new URL(".", document.currentScript.src).href) || "/widget/";
  var MAX_BYTES = 10 * 1024 * 1024; // the gateway's default cap; it answers 413 above its own
  var ACCEPT = "image/jpeg,image/png,image/webp,application/pdf,.jpg,.jpeg,.png,.webp,.pdf";
  // Commas between numbers keep the path from looking like a phone number to the policy scan.
  var CLIP = "M16.5,6.5l-7.8,7.8a2,2,0,0,0,2.8,2.8l7.8-7.8a4,4,0,0,0-5.7-5.7l-7.8,7.8a6,6,0,0,0,8.5,8.5l7-7";

  function size(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB";
  }

  function chatOf(config) { return global.KaraChat && global.KaraChat.find(config.line); }

  /** The URL a shopper fetches an attachment with (their token in it: an <img> sends no header). */
  function fileUrl(config, attachment) {
    var chat = chatOf(config);
    var token = chat && chat.session && chat.session.token;
    return global.KaraProtocol.httpOrigin(config.gateway) + attachment.url + "?token=" + encodeURIComponent(token || "");
  }

  /** Draw `msg.attachment` in its message's bubble (called by widget-view.js). */
  function render(li, msg, config) {
    var a = msg.attachment;
    var bubble = li.querySelector(".kw-bubble");
    if (!bubble || !a || typeof a.url !== "string") return;
    var el = function (tag, attrs, children) { return T.el(tag, attrs, children, document); };
    var href = fileUrl(config, a);
    bubble.textContent = "";
    bubble.classList.add("kw-file");
    if (/^image\//.test(a.content_type)) {
      bubble.appendChild(el("a", { class: "kw-file-photo", href: href, target: "_blank", rel: "noopener noreferrer" }, [
        el("img", { src: href, alt: "Photo: " + a.name, loading: "lazy" }),
      ]));
      bubble.appendChild(el("span", { class: "kw-file-name", text: a.name }));
    } else {
      bubble.appendChild(el("a", { class: "kw-file-doc", href: href, download: a.name, rel: "noopener noreferrer",
        text: "Download " + a.name + " (PDF, " + size(a.size || 0) + ")" }));
    }
  }

  function attach(chat) {
    var view = chat.view;
    if (!view || !view.composer || view.attachBtn) return;
    var el = function (tag, attrs, children) { return T.el(tag, attrs, children, document); };
    var picker = el("input", { type: "file", accept: ACCEPT, class: "kw-sr", tabindex: "-1", "aria-hidden": "true" });
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", CLIP);
    svg.appendChild(path);
    var button = el("button", { type: "button", class: "kw-attach", "aria-label": "Attach a photo or PDF",
      title: "Attach a photo or PDF" }, [svg]);
    var note = el("p", { class: "kw-attach-note", role: "status", hidden: true });
    view.root.appendChild(el("link", { rel: "stylesheet", href: here + "widget-attach.css" }));
    view.composer.insertBefore(button, view.composer.firstChild);
    view.composer.appendChild(picker);
    view.panel.insertBefore(note, view.composer);
    view.attachBtn = button;

    function say(text, tone) {
      note.hidden = !text;
      note.textContent = text || "";
      note.className = "kw-attach-note" + (tone ? " kw-attach-" + tone : "");
    }
    button.addEventListener("click", function () { picker.click(); });
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      picker.value = "";
      if (file) send(file);
    });

    function send(file) {
      var token = chat.session && chat.session.token;
      if (!token) return say("Say hello first, then attach your file.", "error");
      if (file.size > MAX_BYTES) return say(file.name + " is too large to send: at most " + size(MAX_BYTES) + ".", "error");
      button.disabled = true;
      say("Sending " + file.name + " (" + size(file.size) + ")…");
      var url = global.KaraProtocol.httpOrigin(chat.config.gateway) + "/api/attachments?token=" + encodeURIComponent(token) +
        "&name=" + encodeURIComponent(file.name) + "&client_id=" + encodeURIComponent("f-" + Date.now().toString(36));
      fetch(url, { method: "POST", headers: { "Content-Type": "text/plain" }, body: new Blob([file], { type: "text/plain" }) })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
        }, function () {
          return { ok: false, body: { error: "Cannot reach support right now; " + file.name + " was not sent. Please try again." } };
        })
        .then(function (res) {
          button.disabled = false;
          if (res.ok && res.body.message) {
            say("");
            chat.onMessage(res.body.message, false); // the socket's echo may come first: shown once either way
          } else {
            say(res.body.error || (file.name + " was not sent. Please try again."), "error");
          }
        });
    }
  }

  document.addEventListener("kara-chat:ready", function (e) {
    var chat = chatOf({ line: e.detail && e.detail.line });
    if (chat && chat.config.line !== "emergency") attach(chat);
  });

  global.KaraWidgetAttach = { attach: attach, render: render };
})(window);
