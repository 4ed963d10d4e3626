/*
 * Agent console: labels on a chat, in its context panel. Lists the
 * conversation's labels (GET /api/conversations/<id>/labels), adds one from a
 * small form (the labels the team already uses are offered as suggestions,
 * GET /api/labels) and removes one with its × button. The gateway trims and
 * lower-cases labels and says what is wrong with a bad one.
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var D = global.KaraDesk;
  var el = T.el;
  var seq = 0;

  function Labels(pane, ctx) {
    var self = this;
    this.pane = pane;
    this.ctx = ctx;
    this.path = "/api/conversations/" + encodeURIComponent(pane.id) + "/labels";
    var listId = "labels-known-" + (++seq);
    this.list = el("ul", { class: "cl-list", "aria-label": "Labels of this chat" });
    this.none = el("p", { class: "cl-none", text: "No labels yet." });
    this.input = el("input", { class: "cl-input", maxlength: "32", list: listId, "aria-label": "Add a label",
      placeholder: "Add a label" });
    this.known = el("datalist", { id: listId });
    this.error = el("p", { class: "cl-error", role: "alert", hidden: true });
    this.form = el("form", { class: "cl-form" }, [this.input, this.known,
      el("button", { type: "submit", class: "c-btn", text: "Add" })]);
    this.form.addEventListener("submit", function (e) {
      e.preventDefault();
      var label = self.input.value.trim();
      if (label) self.change(self.path, label).then(function (ok) { if (ok) self.input.value = ""; });
    });
    this.input.addEventListener("focus", function () { self.suggest(); });
    this.section = el("section", { class: "cl-labels", "aria-label": "Labels" }, [
      el("h3", { text: "Labels" }), this.list, this.none, this.form, this.error,
    ]);
    var side = pane.panel.querySelector(".c-context");
    var actions = side && side.querySelector(".c-actions");
    var before = actions && actions.previousElementSibling; // the "Actions" heading
    if (side) side.insertBefore(this.section, before || null);
    D.api(ctx, this.path).then(function (res) { if (res.status === 200) self.show(res.body.labels || []); });
  }

  Labels.prototype.show = function (labels) {
    var self = this;
    this.list.textContent = "";
    labels.forEach(function (label) {
      self.list.appendChild(el("li", { class: "cl-chip", "data-label": label }, [
        el("span", { text: label }),
        el("button", { type: "button", class: "cl-remove", "aria-label": "Remove label " + label, text: "×",
          onclick: function () { self.change(self.path + "/delete", label); } }),
      ]));
    });
    this.none.hidden = labels.length > 0;
    this.labels = labels;
  };

  /** POST {label} to `path`; true when the gateway took it. */
  Labels.prototype.change = function (path, label) {
    var self = this;
    return D.api(this.ctx, path, { label: label }).then(function (res) {
      if (res.status !== 200) throw new Error(res.body.error || "That did not work (" + res.status + ").");
      self.error.hidden = true;
      self.show(res.body.labels || []);
      return true;
    }).catch(function (err) {
      self.error.textContent = err && err.message && err.message.indexOf("fetch") < 0 ? err.message : "Cannot reach the gateway.";
      self.error.hidden = false;
      return false;
    });
  };

  Labels.prototype.suggest = function () {
    var self = this;
    D.api(this.ctx, "/api/labels").then(function (res) {
      if (res.status !== 200) return;
      self.known.textContent = "";
      (res.body.labels || []).forEach(function (l) { self.known.appendChild(el("option", { value: l.label })); });
    });
  };

  if (D) D.part(function (pane, ctx) { pane.labels = new Labels(pane, ctx); });
})(window);
