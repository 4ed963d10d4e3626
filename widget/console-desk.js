/*
 * Agent console: the desk's parts of a chat panel (canned replies in the
 * composer, labels in the context panel, ...). Each part registers itself with
 * KaraDesk.part(fn); console.js calls KaraDesk.attach(pane, ctx) once per chat
 * panel, ctx = {base: the gateway's http origin, token: () => the agent's token}.
 * Exposed as `window.KaraDesk`.
 */
(function (global) {
  "use strict";

  if (global.KaraDesk) return;
  var parts = [];

  /** GET or POST `path` on the gateway with the agent's token: resolves {status, body}. */
  function api(ctx, path, body) {
    var options = { headers: { Authorization: "Bearer " + (ctx.token() || "") } };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(ctx.base + path, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; });
    });
  }

  global.KaraDesk = {
    part: function (fn) { parts.push(fn); },
    attach: function (pane, ctx) {
      parts.forEach(function (fn) {
        try { fn(pane, ctx); } catch (e) { if (global.console) global.console.error(e); }
      });
    },
    api: api,
  };
})(window);
