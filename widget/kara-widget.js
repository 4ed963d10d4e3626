/*
 * Kara Support Chat — the one script tag a page needs.
 *
 *   <script src="https://gateway.example/widget/kara-widget.js"
 *           data-gateway="wss://gateway.example"   (default: the script's own host)
 *           data-role="shopper"                    (shopper | vendor | provider)
 *           data-line="chat"                       (chat | emergency)
 *           data-title="Kara Healthmall"           (header title, default "Support")
 *           data-mount="#chat"                     (optional: render inline into this
 *                                                   element, always open, no launcher)
 *           defer></script>
 *
 * This file only reads the configuration and loads the pieces that sit next
 * to it (protocol.js, text.js, scroll.js, widget-view.js, widget-chat.js); the widget
 * itself lives in a shadow root so the host page's CSS cannot touch it and
 * its CSS cannot touch the page.
 *
 * Page API, once loaded: window.KaraChat.open(), .close(), .instances, and a
 * `kara-chat:ready` event on `document`.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return; // must be a classic <script src>, not injected as a module

  var ROLES = ["shopper", "vendor", "provider"];
  var LINES = ["chat", "emergency"];

  function pick(value, allowed, fallback) {
    return allowed.indexOf(value) >= 0 ? value : fallback;
  }

  var here = new URL(".", script.src).href; // the folder kara-widget.js was served from
  var line = pick(script.getAttribute("data-line"), LINES, "chat");
  var config = {
    gateway: script.getAttribute("data-gateway") || new URL(script.src).origin,
    role: pick(script.getAttribute("data-role"), ROLES, line === "emergency" ? "provider" : "shopper"),
    line: line,
    title: script.getAttribute("data-title") || (line === "emergency" ? "Provider emergency line" : "Support"),
    botName: script.getAttribute("data-bot-name") || "Assistant",
    mount: script.getAttribute("data-mount") || "",
    open: script.getAttribute("data-open") === "true",
    cssUrl: here + "kara-widget.css",
  };

  // Load the pieces in order (async=false keeps document order, in parallel).
  var pieces = [
    ["protocol.js", "KaraProtocol"],
    ["text.js", "KaraText"],
    ["scroll.js", "KaraScroll"],
    ["widget-view.js", "KaraWidgetView"],
    ["widget-chat.js", "KaraWidgetChat"],
    ["widget-transcript.js", "KaraWidgetTranscript"], // "Email me this conversation"
    ["widget-attach.js", "KaraWidgetAttach"], // photos and PDFs both ways
    ["widget-history.js", "KaraWidgetHistory"], // "Previous conversations", the browser id
  ];

  function loadScript(file, globalName) {
    return new Promise(function (resolve, reject) {
      if (window[globalName]) return resolve();
      var existing = document.querySelector('script[data-kara-piece="' + file + '"]');
      var tag = existing || document.createElement("script");
      tag.addEventListener("load", function () { resolve(); });
      tag.addEventListener("error", function () { reject(new Error("could not load " + file)); });
      if (!existing) {
        tag.src = here + file;
        tag.async = false;
        tag.setAttribute("data-kara-piece", file);
        document.head.appendChild(tag);
      }
    });
  }

  function whenDomReady() {
    return new Promise(function (resolve) {
      if (document.readyState !== "loading") resolve();
      else document.addEventListener("DOMContentLoaded", function () { resolve(); }, { once: true });
    });
  }

  var api = (window.KaraChat = window.KaraChat || {
    instances: [],
    open: function (which) {
      var chat = api.find(which);
      if (chat) chat.open();
    },
    close: function (which) {
      var chat = api.find(which);
      if (chat) chat.close();
    },
    find: function (which) {
      var list = api.instances;
      for (var i = 0; i < list.length; i++) if (!which || list[i].config.line === which) return list[i];
      return null;
    },
  });

  Promise.all(pieces.map(function (p) { return loadScript(p[0], p[1]); }))
    .then(whenDomReady)
    .then(function () {
      var host;
      if (config.mount) {
        host = document.querySelector(config.mount);
        if (!host) throw new Error("kara-widget: data-mount " + config.mount + " not found");
      } else {
        host = document.createElement("div");
        host.className = "kara-chat-host";
        document.body.appendChild(host);
      }
      var chat = new window.KaraWidgetChat(host, config);
      api.instances.push(chat);
      chat.start();
      document.dispatchEvent(new CustomEvent("kara-chat:ready", { detail: { line: config.line } }));
    })
    .catch(function (err) {
      // The widget must never break the host page: report and stay quiet.
      if (window.console) console.error("Kara chat could not start:", err);
    });
})();
