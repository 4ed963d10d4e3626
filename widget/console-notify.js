/*
 * Agent console: desktop notifications (the browser's Notification API) for
 * a new handoff, an emergency, and a shopper's message in a chat that is not
 * in front. Exposed as `window.KaraNotify`.
 *
 * Browsers ask the person before a page may notify, and that question must
 * come from a click: the console's "Turn on desktop notifications" button.
 * The agent's choice is kept in localStorage; the browser's answer is
 * `Notification.permission` ("denied" can only be undone in its settings).
 */
(function (global) {
  "use strict";

  var KEY = "kara-console:notifications";
  var listeners = [];

  function supported() { return typeof global.Notification === "function"; }

  function wanted() {
    try { return global.localStorage.getItem(KEY) === "on"; } catch (e) { return false; }
  }

  function setWanted(on) {
    try { global.localStorage.setItem(KEY, on ? "on" : "off"); } catch (e) { /* storage off */ }
    changed();
  }

  /** "unsupported" | "denied" (by the browser) | "on" | "off". */
  function state() {
    if (!supported()) return "unsupported";
    if (global.Notification.permission === "denied") return "denied";
    return global.Notification.permission === "granted" && wanted() ? "on" : "off";
  }

  function changed() {
    var s = state();
    listeners.forEach(function (fn) { fn(s); });
  }

  /** From the button's click: ask the browser (once), then turn notifications on. */
  function enable() {
    if (!supported()) return;
    var asked = global.Notification.requestPermission(function () { /* old callback form */ });
    Promise.resolve(asked).then(function (permission) {
      setWanted((permission || global.Notification.permission) === "granted");
    }, changed);
  }

  /**
   * Show one notification if the agent turned them on. `tag` replaces an older
   * one about the same thing; `onClick` runs when the agent clicks it.
   */
  function show(title, body, tag, options) {
    if (state() !== "on") return null;
    options = options || {};
    var note;
    try {
      note = new global.Notification(title, {
        body: String(body || "").slice(0, 180),
        tag: tag,
        requireInteraction: !!options.urgent, // an emergency stays until seen
      });
    } catch (e) {
      return null; // e.g. a browser that only notifies from a service worker
    }
    note.onclick = function () {
      global.focus();
      if (options.onClick) options.onClick();
      note.close();
    };
    return note;
  }

  global.KaraNotify = {
    state: state,
    enable: enable,
    disable: function () { setWanted(false); },
    show: show,
    onChange: function (fn) { listeners.push(fn); fn(state()); },
  };
})(window);
