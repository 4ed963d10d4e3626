/*
 * Kara Support Chat — safe text rendering and formatting, shared by the widget
 * and the console. Exposed as `window.KaraText`.
 *
 * Rule: a message is text. Nothing here ever assigns innerHTML. Web addresses,
 * email addresses and international phone numbers inside a message become
 * links built with createElement + textContent, and only with http(s):,
 * mailto: or tel: targets, so a message can never inject markup or script.
 */
(function (global) {
  "use strict";

  if (global.KaraText) return;

  // One pass over the text finds the next link-like token of any kind.
  var LINK_RE = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])|([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})|(\+\d[\d ]{7,16}\d)/g;

  /** Append `text` to `parent` as text nodes and safe links. */
  function appendText(parent, text) {
    var doc = parent.ownerDocument || document;
    var s = String(text == null ? "" : text);
    var last = 0;
    var m;
    LINK_RE.lastIndex = 0;
    while ((m = LINK_RE.exec(s)) !== null) {
      if (m.index > last) parent.appendChild(doc.createTextNode(s.slice(last, m.index)));
      var a = doc.createElement("a");
      a.textContent = m[0];
      if (m[1]) {
        a.href = m[1];
        a.target = "_blank";
        a.rel = "noopener noreferrer";
      } else if (m[2]) {
        a.href = "mailto:" + m[2];
      } else {
        a.href = "tel:" + m[3].replace(/\s+/g, "");
      }
      parent.appendChild(a);
      last = m.index + m[0].length;
    }
    if (last < s.length) parent.appendChild(doc.createTextNode(s.slice(last)));
    return parent;
  }

  /**
   * Tiny DOM builder: el("button", {class: "x", "aria-label": "Send"}, ["Send"]).
   * Children are nodes or strings (strings become text nodes, never HTML).
   * Attribute `text` sets textContent; `on<event>` attaches listeners.
   */
  function el(tag, attrs, children, doc) {
    var node = (doc || document).createElement(tag);
    attrs = attrs || {};
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key.indexOf("on") === 0 && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? node.ownerDocument.createTextNode(child) : child);
    });
    return node;
  }

  /** Estimated wait in words for a shopper: "under a minute", "about 4 minutes". */
  function formatWait(seconds) {
    var s = Math.max(0, Math.round(Number(seconds) || 0));
    if (s < 60) return "under a minute";
    var minutes = Math.round(s / 60);
    if (minutes < 60) return "about " + minutes + (minutes === 1 ? " minute" : " minutes");
    var hours = Math.floor(minutes / 60);
    var rest = minutes % 60;
    return "about " + hours + (hours === 1 ? " hour" : " hours") +
      (rest ? " " + rest + (rest === 1 ? " minute" : " minutes") : "");
  }

  /** A waiting time as a clock for agents: "0:07", "12:30", "1:02:03". */
  function formatDuration(seconds) {
    var s = Math.max(0, Math.floor(Number(seconds) || 0));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + two(m) + ":" + two(sec) : m + ":" + two(sec);
  }

  /** Local time of day for a message timestamp ("14:05"); "" when unreadable. */
  function formatClock(ts) {
    if (!ts) return "";
    var d = new Date(ts);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  /** "1st", "2nd", "3rd", "11th" for queue positions. */
  function ordinal(n) {
    var v = n % 100;
    var suffix = v >= 11 && v <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th";
    return n + suffix;
  }

  /** "security_issue" -> "Security issue" (machine words for people); other text as is. */
  function humanize(value) {
    var s = String(value == null ? "" : value);
    if (!/^[a-z0-9]+(_[a-z0-9]+)*$/.test(s)) return s;
    s = s.replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  /** "Ada Obi" -> "AO", "Tolu" -> "T": for an avatar. */
  function initials(name) {
    var words = String(name || "").trim().split(/\s+/).filter(Boolean);
    if (!words.length) return "?";
    var first = words[0].charAt(0);
    var last = words.length > 1 ? words[words.length - 1].charAt(0) : "";
    return (first + last).toUpperCase();
  }

  global.KaraText = {
    humanize: humanize,
    initials: initials,
    appendText: appendText,
    el: el,
    formatWait: formatWait,
    formatDuration: formatDuration,
    formatClock: formatClock,
    ordinal: ordinal,
  };
})(window);
