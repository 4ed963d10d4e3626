/*
 * Agent console: files both ways (handoff/attachments/). An "Attach" button in
 * each chat's composer sends a photo or a PDF to the shopper: the file is the
 * body of `POST /api/attachments?conversation_id=…` with the agent's bearer
 * token; the gateway's refusal (not a photo or PDF, too large, too many) is
 * shown as it says it. Messages that carry an `attachment` are drawn by
 * `render` (called by console-chat.js): a photo as a thumbnail, every file
 * with a Download button. Files are fetched with the token in the
 * Authorization header (never in a URL) and shown from blob: URLs. DOM nodes
 * only. Registered as a KaraDesk part; exposed as `window.KaraConsoleAttach`.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var D = global.KaraDesk;
  if (!D || !T || global.KaraConsoleAttach) return;
  var el = T.el;
  var ACCEPT = "image/jpeg,image/png,image/webp,application/pdf,.jpg,.jpeg,.png,.webp,.pdf";

  function size(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB";
  }

  function token() {
    var s = global.KaraSession && global.KaraSession.load();
    return (s && s.token) || "";
  }

  /** The file as a blob: URL (the console is served by the gateway: same origin). */
  function blobUrl(a) {
    return fetch(a.url, { headers: { Authorization: "Bearer " + token() } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.blob();
    }).then(function (b) { return URL.createObjectURL(b); });
  }

  function download(a, status) {
    status.textContent = "Downloading…";
    blobUrl(a).then(function (url) {
      var link = el("a", { href: url, download: a.name, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      status.textContent = "";
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    }, function () { status.textContent = "This file could not be fetched; it may no longer be kept."; });
  }

  /** Draw `m.attachment` in its transcript line (called by console-chat.js). */
  function render(li, m) {
    var a = m.attachment;
    var text = li.querySelector(".c-msg-text");
    if (!text || !a || typeof a.url !== "string") return;
    var status = el("span", { class: "ca-status", role: "status" });
    var parts = [];
    if (/^image\//.test(a.content_type)) {
      var img = el("img", { class: "ca-photo", alt: "Photo: " + a.name });
      blobUrl(a).then(function (url) { img.src = url; }, function () { status.textContent = "This photo could not be shown."; });
      parts.push(img);
    }
    parts.push(el("span", { class: "ca-name", text: a.name + " · " + (a.content_type === "application/pdf" ? "PDF" : "photo") + ", " + size(a.size || 0) }));
    parts.push(el("button", { type: "button", class: "c-btn ca-download", text: "Download " + a.name,
      onclick: function () { download(a, status); } }));
    parts.push(status);
    text.textContent = "";
    text.classList.add("ca-file");
    parts.forEach(function (p) { text.appendChild(p); });
  }

  function attach(pane, ctx) {
    var picker = el("input", { type: "file", accept: ACCEPT, class: "ca-picker", tabindex: "-1", "aria-hidden": "true" });
    var button = el("button", { type: "button", class: "c-btn ca-attach", text: "Attach",
      "aria-label": "Attach a photo or PDF for the shopper", title: "Send the shopper a photo or a PDF" });
    var note = el("p", { class: "ca-note", role: "status", hidden: true });
    pane.composer.insertBefore(button, pane.sendBtn);
    pane.composer.appendChild(picker);
    pane.composer.parentNode.insertBefore(note, pane.composer);
    function say(text, error) {
      note.hidden = !text;
      note.textContent = text || "";
      note.classList.toggle("ca-error", !!error);
    }
    button.addEventListener("click", function () { picker.click(); });
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      picker.value = "";
      if (!file) return;
      button.disabled = true;
      say("Sending " + file.name + " (" + size(file.size) + ")…");
      var url = ctx.base + "/api/attachments?conversation_id=" + encodeURIComponent(pane.id) + "&name=" + encodeURIComponent(file.name);
      fetch(url, { method: "POST", headers: { Authorization: "Bearer " + (ctx.token() || "") }, body: file })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (b) { return { ok: r.ok, body: b }; });
        }, function () { return { ok: false, body: { error: "Cannot reach the gateway; " + file.name + " was not sent." } }; })
        .then(function (res) {
          button.disabled = false;
          if (res.ok && res.body.message) {
            say("");
            pane.addMessage(res.body.message, true); // the socket's copy may come first: shown once
          } else {
            say(res.body.error || file.name + " was not sent.", true);
          }
        });
    });
  }

  D.part(attach);
  global.KaraConsoleAttach = { render: render };
})(window);
