/*
 * Agent console: canned replies in the composer. Typing "/" (at the start or
 * after a space) opens a list of the team's canned replies (GET /api/canned),
 * filtered as the agent types ("/ref" -> /refund); ArrowUp/ArrowDown move,
 * Enter or Tab or a click inserts the reply in place of "/ref", Escape closes.
 * The inserted text is the server's `rendered` one: policy facts already
 * filled in from policy.yml. Nothing is sent until the agent presses Enter
 * again. Supervisors edit the replies on /console/admin.
 *
 * The list is a WAI-ARIA listbox driven from the textarea (aria-activedescendant);
 * every text from the server goes in as a text node.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var D = global.KaraDesk;
  var el = T.el;
  var TOKEN_RE = /(^|\s)\/([a-z0-9_-]*)$/i; // "/" and what follows it, just before the caret
  var MAX_SHOWN = 8;
  var REFRESH_MS = 60000;

  // One list for every chat of this page, asked again at most once a minute.
  var cache = { replies: null, at: 0, loading: null, error: "" };

  function load(ctx, force) {
    if (cache.loading) return cache.loading;
    if (!force && cache.replies && Date.now() - cache.at < REFRESH_MS) return Promise.resolve(cache.replies);
    cache.loading = D.api(ctx, "/api/canned").then(function (res) {
      if (res.status === 401) throw new Error("Sign in again to use canned replies.");
      if (res.status !== 200) throw new Error("Canned replies are not available (" + res.status + ").");
      cache.replies = res.body.replies || [];
      cache.at = Date.now();
      cache.error = "";
      return cache.replies;
    }).catch(function (err) {
      cache.error = err && err.message && err.message.indexOf("fetch") < 0 ? err.message : "Cannot reach the gateway.";
      return cache.replies || [];
    }).then(function (replies) { cache.loading = null; return replies; });
    return cache.loading;
  }

  function titleWords(r) { return String(r.title || "").toLowerCase().split(/[^a-z0-9]+/); }

  /** Shortcuts starting with the query first, then (from two letters on) other shortcuts and title words holding it. */
  function matching(replies, query) {
    var q = query.toLowerCase();
    var first = [], then = [];
    replies.forEach(function (r) {
      var shortcut = String(r.shortcut || "").toLowerCase();
      if (shortcut.indexOf(q) === 0) first.push(r);
      else if (q.length > 1 && (shortcut.indexOf(q) > 0 || titleWords(r).some(function (w) { return w.indexOf(q) === 0; }))) then.push(r);
    });
    return first.concat(then).slice(0, MAX_SHOWN);
  }

  var seq = 0;

  function Canned(pane, ctx) {
    var self = this;
    this.pane = pane;
    this.ctx = ctx;
    this.input = pane.input;
    this.shown = []; // the replies in the list
    this.active = -1;
    this.start = -1; // where "/" is in the textarea
    this.id = "canned-" + (++seq);
    this.menu = el("ul", { class: "cc-menu", role: "listbox", id: this.id, "aria-label": "Canned replies", hidden: true });
    this.note = el("p", { class: "cc-note", role: "status", hidden: true });
    this.box = el("div", { class: "cc-box", hidden: true }, [this.menu, this.note]);
    pane.composer.classList.add("cc-composer");
    pane.composer.insertBefore(this.box, pane.composer.firstChild);
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-controls", this.id);
    this.input.setAttribute("aria-expanded", "false");
    this.input.setAttribute("placeholder", (this.input.getAttribute("placeholder") || "").replace("… (", "… (/ for canned replies, "));
    this.input.addEventListener("input", function () { self.update(); });
    this.input.addEventListener("click", function () { self.update(); });
    this.input.addEventListener("blur", function () { setTimeout(function () { self.close(); }, 150); });
    // Capture on the form: runs before the composer's own Enter-to-send on the textarea.
    pane.composer.addEventListener("keydown", function (e) { self.key(e); }, true);
  }

  Canned.prototype.isOpen = function () { return !this.box.hidden; };

  /** Open, filter or close the list for the text before the caret. */
  Canned.prototype.update = function () {
    var caret = this.input.selectionStart;
    var m = caret === this.input.selectionEnd ? TOKEN_RE.exec(this.input.value.slice(0, caret)) : null;
    if (!m) { this.close(); return; }
    var self = this;
    var query = m[2];
    var opening = !this.isOpen();
    this.start = caret - query.length - 1;
    this.query = query;
    this.render();
    if (opening || !cache.replies) {
      load(this.ctx, opening && !!cache.replies && Date.now() - cache.at > REFRESH_MS).then(function () {
        if (self.isOpen()) self.render();
      });
    }
  };

  Canned.prototype.render = function () {
    var self = this;
    var replies = cache.replies || [];
    this.shown = matching(replies, this.query || "");
    this.menu.textContent = "";
    this.shown.forEach(function (r, i) {
      var option = el("li", { class: "cc-option", role: "option", id: self.id + "-" + i, "aria-selected": "false",
        "data-shortcut": r.shortcut }, [
        el("span", { class: "cc-shortcut", text: "/" + r.shortcut }),
        el("span", { class: "cc-title", text: r.title }),
        el("span", { class: "cc-preview", text: r.rendered }),
      ]);
      option.addEventListener("mousedown", function (e) { e.preventDefault(); }); // keep the focus in the textarea
      option.addEventListener("click", function () { self.insert(i); });
      self.menu.appendChild(option);
    });
    var note = "";
    if (!cache.replies) note = cache.loading ? "Loading canned replies…" : (cache.error || "Loading canned replies…");
    else if (!this.shown.length) note = replies.length ? "No canned reply starts with /" + this.query + "." : "No canned replies yet.";
    else if (cache.error) note = cache.error;
    this.note.textContent = note;
    this.note.hidden = !note;
    this.menu.hidden = !this.shown.length;
    this.box.hidden = false;
    this.input.setAttribute("aria-expanded", String(this.shown.length > 0));
    this.select(this.shown.length ? Math.min(Math.max(this.active, 0), this.shown.length - 1) : -1);
  };

  Canned.prototype.select = function (i) {
    this.active = i;
    var options = this.menu.children;
    for (var k = 0; k < options.length; k++) {
      options[k].setAttribute("aria-selected", String(k === i));
      options[k].classList.toggle("cc-active", k === i);
    }
    if (i >= 0 && options[i]) {
      this.input.setAttribute("aria-activedescendant", options[i].id);
      if (options[i].scrollIntoView) options[i].scrollIntoView({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  };

  Canned.prototype.close = function () {
    if (!this.isOpen()) return;
    this.box.hidden = true;
    this.shown = [];
    this.active = -1;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  };

  Canned.prototype.key = function (e) {
    if (!this.isOpen() || e.target !== this.input || e.isComposing) return;
    var n = this.shown.length;
    var handled = true;
    if (e.key === "ArrowDown" && n) this.select((this.active + 1) % n);
    else if (e.key === "ArrowUp" && n) this.select((this.active + n - 1) % n);
    else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey && n && this.active >= 0) this.insert(this.active);
    else if (e.key === "Escape") this.close();
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  };

  /** Put reply `i` where "/query" is, caret after it. */
  Canned.prototype.insert = function (i) {
    var reply = this.shown[i];
    if (!reply) return;
    var value = this.input.value;
    var end = this.start + 1 + (this.query || "").length;
    var text = String(reply.rendered || "");
    this.input.value = value.slice(0, this.start) + text + value.slice(end);
    var caret = this.start + text.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.focus();
    this.input.dispatchEvent(new Event("input")); // the typing indicator; a "/" left in the text reopens nothing
  };

  if (D) {
    D.part(function (pane, ctx) { pane.canned = new Canned(pane, ctx); });
  }
  global.KaraCanned = { matching: matching };
})(window);
