/*
 * Kara Support Chat: the sign-in of the stand-alone console pages (reports,
 * admin, history), written once. Exposed as `window.KaraPageSignIn`.
 *
 * The page carries the sign-in markup (ids login-view, login-form, username,
 * password, login-error, login-submit, app-view, agent-name, sign-out). This
 * module signs in with POST /api/login or reuses the console's session of this
 * tab (widget/session.js), and gives the page an authorised `api()` that signs
 * out on 401. Texts go in with textContent only (strict CSP, no inline script).
 */
(function (global) {
  "use strict";

  var session = null;
  var hooks = {};
  var ui = null;

  function $(id) { return document.getElementById(id); }

  function showLogin(message) {
    ui.appView.hidden = true;
    ui.loginView.hidden = false;
    ui.loginError.hidden = !message;
    ui.loginError.textContent = message || "";
    ui.username.focus();
  }

  function showApp() {
    ui.loginView.hidden = true;
    ui.appView.hidden = false;
    ui.agentName.textContent = (session.agent && session.agent.name) || "";
  }

  function signedIn() {
    showApp();
    if (hooks.onSignedIn) hooks.onSignedIn(session);
  }

  function submit(event) {
    event.preventDefault();
    var username = ui.username.value.trim();
    var password = ui.password.value;
    if (!username || !password) { showLogin("Enter your username and password."); return; }
    ui.loginBtn.disabled = true;
    fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: username, password: password }),
    })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status !== 200 || !res.body.token) {
          throw new Error(res.status === 401 ? "Wrong username or password." : (res.body.error || "Sign-in failed."));
        }
        session = { token: res.body.token, agent: res.body.agent || { name: username } };
        global.KaraSession.save(session);
        ui.password.value = "";
        signedIn();
      })
      .catch(function (err) {
        showLogin(err && err.message && err.message.indexOf("fetch") < 0 ? err.message : "Cannot reach the support gateway.");
      })
      .then(function () { ui.loginBtn.disabled = false; });
  }

  function signOut() {
    session = null;
    global.KaraSession.save(null);
    if (hooks.onSignedOut) hooks.onSignedOut();
    showLogin("You signed out.");
  }

  /**
   * Wire the sign-in and show the page: the stored session of this tab, or the form.
   * hooks.onSignedIn(session): the page loads its data; hooks.onSignedOut(): it hides it.
   */
  function start(pageHooks) {
    hooks = pageHooks || {};
    ui = {
      loginView: $("login-view"), loginForm: $("login-form"), username: $("username"), password: $("password"),
      loginError: $("login-error"), loginBtn: $("login-submit"), appView: $("app-view"), agentName: $("agent-name"),
      signOut: $("sign-out"),
    };
    ui.loginForm.addEventListener("submit", submit);
    ui.signOut.addEventListener("click", signOut);
    session = global.KaraSession.load();
    if (!session || !session.token) showLogin("");
    else signedIn();
  }

  /**
   * Fetch `path` with the bearer token. options.body: POST it as JSON; options.raw:
   * resolve the Response (e.g. for a blob) instead of the JSON answer;
   * options.forbidden: the sentence for a 403; options.failure(status, body): the
   * sentence for any other refusal. A 401 signs out and rejects with an empty message.
   */
  function api(path, options) {
    var o = options || {};
    var init = { headers: { Authorization: "Bearer " + (session ? session.token : "") } };
    if (o.body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(o.body);
    }
    return fetch(path, init).then(function (res) {
      if (o.raw && res.ok) return res;
      return res.json().catch(function () { return {}; }).then(function (b) {
        if (res.status === 401) {
          session = null;
          global.KaraSession.save(null);
          showLogin("Your session has expired. Please sign in again.");
          throw new Error("");
        }
        if (res.status === 403 && o.forbidden) throw new Error(o.forbidden);
        if (!res.ok) throw new Error(o.failure ? o.failure(res.status, b) : "That failed (" + res.status + ").");
        return b;
      });
    });
  }

  /**
   * Show the sentence of a failed api() call (or page check) in `errorEl`, clearing
   * the status `noteEl`; true if there was one (a 401 has none: the form says it).
   */
  function showError(noteEl, errorEl, err) {
    noteEl.textContent = "";
    if (!err || !err.message) return false;
    errorEl.textContent = err.message;
    errorEl.hidden = false;
    return true;
  }

  global.KaraPageSignIn = { start: start, api: api, showError: showError, session: function () { return session; } };
})(window);
