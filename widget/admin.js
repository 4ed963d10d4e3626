/*
 * Kara Support admin page (/console/admin), for supervisors: agents (add,
 * disable / enable, role, chats at once), canned replies (add, edit, delete)
 * and the audit log of every such change.
 *
 * Signs in with widget/page-signin.js (POST /api/login, or the console's
 * session of this tab) and talks to /api/agents, /api/canned and
 * /api/audit with the bearer token (handoff/desk/). The gateway decides who may:
 * 401 -> sign in again, 403 -> "for supervisors"; a 400 shows the gateway's
 * message. Every text from the server goes in as a text node (KaraText.el).
 */
(function (global) {
  "use strict";

  var T = global.KaraText;
  var S = global.KaraPageSignIn; // widget/page-signin.js: sign-in, session, authorised fetch
  var el = T.el;

  function $(id) { return document.getElementById(id); }
  var ui = {
    error: $("admin-error"), note: $("admin-note"), admin: $("admin"),
    agents: document.querySelector("#agents tbody"), newAgent: $("new-agent"),
    canned: $("canned"), facts: $("facts"), newCanned: $("new-canned"),
    audit: document.querySelector("#audit tbody"), auditNone: $("audit-none"),
  };

  // ---- the API -------------------------------------------------------------------

  /** GET (no body) or POST `body`; resolves the JSON answer, rejects with a sentence. */
  function api(path, body) {
    return S.api(path, {
      body: body,
      forbidden: "The admin page is for supervisors.",
      failure: function (status, b) { return b.error ? "Not saved: " + b.error + "." : "That failed (" + status + ")."; },
    });
  }

  function failed(err) {
    if (S.showError(ui.note, ui.error, err) && err.message.indexOf("supervisors") >= 0) ui.admin.hidden = true;
  }

  function done(message) {
    ui.error.hidden = true;
    ui.note.textContent = message;
    return loadAudit();
  }

  function loadAll() {
    ui.error.hidden = true;
    ui.note.textContent = "Loading…";
    return Promise.all([api("/api/agents"), api("/api/canned"), api("/api/audit")])
      .then(function (bodies) {
        renderAgents(bodies[0].agents || []);
        renderCanned(bodies[1]);
        renderAudit(bodies[2].entries || []);
        ui.admin.hidden = false;
        ui.note.textContent = "";
      })
      .catch(failed);
  }

  function loadAudit() {
    return api("/api/audit").then(function (b) { renderAudit(b.entries || []); }).catch(failed);
  }

  // ---- agents ----------------------------------------------------------------------

  function renderAgents(agents) {
    ui.agents.textContent = "";
    agents.forEach(function (a) {
      var role = el("select", { "aria-label": "Role of " + a.name }, [
        el("option", { value: "agent", text: "Agent" }), el("option", { value: "supervisor", text: "Supervisor" }),
      ]);
      role.value = a.role;
      var capacity = el("input", { type: "number", min: "1", max: "20", value: String(a.capacity), "aria-label": "Chats at once for " + a.name });
      var save = el("button", { type: "button", class: "c-btn", text: "Save", "aria-label": "Save " + a.name });
      var toggle = el("button", { type: "button", class: "c-btn" + (a.active ? " c-btn-danger-outline" : ""),
        text: a.active ? "Disable" : "Enable", "aria-label": (a.active ? "Disable " : "Enable ") + a.name });
      save.addEventListener("click", function () {
        changeAgent(a, { role: role.value, capacity: Number(capacity.value) }, "Saved " + a.name + ".");
      });
      toggle.addEventListener("click", function () {
        changeAgent(a, { active: !a.active }, (a.active ? "Disabled " : "Enabled ") + a.name + ".");
      });
      ui.agents.appendChild(el("tr", { "data-username": a.username }, [
        el("td", { text: a.name }), el("td", { text: a.username }), el("td", {}, [role]), el("td", {}, [capacity]),
        el("td", { class: a.active ? "" : "a-status-disabled", text: a.active ? "Active" : "Disabled" }),
        el("td", {}, [el("div", { class: "a-row-actions" }, [save, toggle])]),
      ]));
    });
  }

  function changeAgent(agent, change, message) {
    return api("/api/agents/" + agent.id, change)
      .then(function () { return api("/api/agents"); })
      .then(function (b) { renderAgents(b.agents || []); return done(message); })
      .catch(failed);
  }

  ui.newAgent.addEventListener("submit", function (event) {
    event.preventDefault();
    var f = ui.newAgent.elements;
    var body = { username: f.username.value.trim(), name: f.name.value.trim(), password: f.password.value,
      role: f.role.value, capacity: Number(f.capacity.value) };
    api("/api/agents", body)
      .then(function (made) {
        ui.newAgent.reset();
        return api("/api/agents").then(function (b) { renderAgents(b.agents || []); return done("Added " + made.name + "."); });
      })
      .catch(failed);
  });

  // ---- canned replies -----------------------------------------------------------------

  function renderCanned(body) {
    ui.facts.textContent = "";
    (body.facts || []).forEach(function (name) { ui.facts.appendChild(el("code", { text: "{" + name + "}" })); });
    ui.canned.textContent = "";
    (body.replies || []).forEach(function (r) {
      var shortcut = el("input", { value: r.shortcut, maxlength: "32", "aria-label": "Shortcut of /" + r.shortcut });
      var title = el("input", { value: r.title, maxlength: "128", "aria-label": "Title of /" + r.shortcut });
      var text = el("textarea", { rows: "2", maxlength: "2000", "aria-label": "Text of /" + r.shortcut });
      text.value = r.text;
      var save = el("button", { type: "button", class: "c-btn", text: "Save", "aria-label": "Save /" + r.shortcut });
      var remove = el("button", { type: "button", class: "c-btn c-btn-danger-outline", text: "Delete", "aria-label": "Delete /" + r.shortcut });
      save.addEventListener("click", function () {
        cannedChange("/api/canned/" + r.id, { shortcut: shortcut.value, title: title.value, text: text.value }, "Saved /" + shortcut.value.trim() + ".");
      });
      remove.addEventListener("click", function () { cannedChange("/api/canned/" + r.id + "/delete", {}, "Deleted /" + r.shortcut + "."); });
      ui.canned.appendChild(el("li", { class: "a-reply", "data-shortcut": r.shortcut }, [
        el("label", {}, ["Shortcut", shortcut]), el("label", {}, ["Title", title]),
        el("label", { class: "a-text" }, ["Text", text]),
        el("p", { class: "a-preview", text: r.rendered }),
        el("div", { class: "a-row-actions a-text" }, [save, remove]),
      ]));
    });
  }

  function cannedChange(path, body, message) {
    return api(path, body)
      .then(function () { return api("/api/canned"); })
      .then(function (b) { renderCanned(b); return done(message); })
      .catch(failed);
  }

  ui.newCanned.addEventListener("submit", function (event) {
    event.preventDefault();
    var f = ui.newCanned.elements;
    cannedChange("/api/canned", { shortcut: f.shortcut.value, title: f.title.value, text: f.text.value },
      "Added /" + f.shortcut.value.trim().toLowerCase() + ".").then(function () { if (ui.error.hidden) ui.newCanned.reset(); });
  });

  // ---- audit log ---------------------------------------------------------------------

  var ACTIONS = {
    "canned.create": "Added canned reply", "canned.edit": "Edited canned reply", "canned.delete": "Deleted canned reply",
    "agent.create": "Added agent", "agent.update": "Changed agent",
  };

  function details(entry) {
    var d = entry.detail || {};
    if (d.changes) {
      return Object.keys(d.changes).map(function (k) {
        return k + ": " + JSON.stringify(d.changes[k][0]) + " → " + JSON.stringify(d.changes[k][1]);
      }).join("; ");
    }
    if (entry.action === "agent.create") return "role " + d.role + ", " + d.capacity + " chats at once";
    return d.title ? d.title + ": " + (d.text || "") : "";
  }

  function renderAudit(entries) {
    ui.audit.textContent = "";
    entries.forEach(function (e) {
      ui.audit.appendChild(el("tr", { "data-action": e.action }, [
        el("td", { text: e.at.replace("T", " ").replace(/(\.\d+)?Z$/, "") }),
        el("td", { text: e.actor.name }),
        el("td", { text: ACTIONS[e.action] || e.action }),
        el("td", { text: e.target }),
        el("td", { text: details(e) }),
      ]));
    });
    ui.auditNone.hidden = entries.length > 0;
  }

  // ---- start -------------------------------------------------------------------------

  S.start({ onSignedIn: loadAll, onSignedOut: function () { ui.admin.hidden = true; } });
})(window);
