/*
 * Kara Support Chat: the signed-in agent of this tab, shared by the console
 * and its stand-alone pages (widget/page-signin.js): one sign-in serves all.
 * Exposed as `window.KaraSession`.
 * sessionStorage: one tab = one signed-in agent; it dies with the tab.
 */
(function (global) {
  "use strict";

  if (global.KaraSession) return;

  var KEY = "kara-console:session";

  /** The stored {token, agent}, or null. */
  function load() {
    try { return JSON.parse(global.sessionStorage.getItem(KEY)) || null; } catch (e) { return null; }
  }

  /** Store `s` ({token, agent}); null forgets it. */
  function save(s) {
    try {
      if (s) global.sessionStorage.setItem(KEY, JSON.stringify(s));
      else global.sessionStorage.removeItem(KEY);
    } catch (e) { /* storage off: sign in again after a reload */ }
  }

  global.KaraSession = { load: load, save: save };
})(window);
