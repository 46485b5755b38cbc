// The served review app. Findings come page by page from the JSON API (server-side
// filtering and paging: the page stays fast with 50,000 findings). Every value goes
// into the page with textContent or as an attribute value, never as markup, so a
// comment or a site value holding <script> stays text. Changes are POSTed as JSON
// with the session's CSRF token (X-CSRF-Token).
(function () {
  "use strict";
  var body = document.body;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var canEdit = body.dataset.canEdit === "true";
  var labels = JSON.parse(body.dataset.labels || "{}");
  var selects = Array.prototype.slice.call(document.querySelectorAll("#app-filters select[data-filter]"));
  var view = { page: 1, pageSize: 100, pages: 1, selected: null, selectedState: null };
  var firstRender = true;

  function $(id) { return document.getElementById(id); }
  function label(value) { return Object.prototype.hasOwnProperty.call(labels, value) ? labels[value] : (value === null || value === undefined ? "" : String(value)); }
  function cell(row, value, css) {
    var td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "" : String(value);
    if (css) { td.className = css; }
    row.appendChild(td);
    return td;
  }
  function stateBadge(state, reason) {
    var span = document.createElement("span");
    span.className = "state state-" + String(state).replace(/[^a-z_]/g, "");
    span.textContent = label(state) + (reason ? " · " + label(reason) : "");
    return span;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function api(path, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = options.headers || {};
    if (options.method && options.method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
    }
    return fetch(path, options).then(function (response) {
      if (response.status === 401) { window.location.assign("/login"); throw new Error("not logged in"); }
      return response.json().then(function (answer) { return { status: response.status, ok: response.ok, body: answer }; });
    });
  }

  // ---------------------------------------------------------------- view state in the URL
  function readHash() {
    var params = new URLSearchParams(window.location.hash.slice(1));
    selects.forEach(function (s) {
      if (params.has(s.dataset.filter)) {
        var value = params.get(s.dataset.filter);
        if (!Array.prototype.some.call(s.options, function (o) { return o.value === value; })) {
          var option = document.createElement("option");
          option.value = value; option.textContent = value;
          s.appendChild(option);
        }
        s.value = value;
      }
    });
    view.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    view.selected = params.get("finding");
  }
  function writeHash() {
    var params = new URLSearchParams();
    selects.forEach(function (s) { params.set(s.dataset.filter, s.value); });
    if (view.page > 1) { params.set("page", String(view.page)); }
    if (view.selected) { params.set("finding", view.selected); }
    history.replaceState(null, "", "#" + params.toString());
  }
  function query() {
    var params = new URLSearchParams();
    selects.forEach(function (s) { if (s.value) { params.set(s.dataset.filter, s.value); } });
    params.set("page", String(view.page));
    params.set("page_size", String(view.pageSize));
    return params.toString();
  }

  // ---------------------------------------------------------------- the list
  function renderRows(answer) {
    var tbody = $("findings-body");
    clear(tbody);
    answer.findings.forEach(function (f) {
      var tr = document.createElement("tr");
      tr.dataset.id = f.FINDING_ID;
      tr.dataset.state = f.STATE;
      if (f.FINDING_ID === view.selected) { tr.className = "selected"; }
      cell(tr, "").appendChild(stateBadge(f.STATE, f.STATE_REASON));
      cell(tr, f.STATUS);
      cell(tr, f.STUDYID + " / " + f.SITEID);
      cell(tr, f.DOMAIN);
      cell(tr, f.RULE);
      cell(tr, f.SEVERITY, "sev-" + String(f.SEVERITY).replace(/[^a-z]/g, ""));
      cell(tr, f.USUBJID);
      cell(tr, f.COLUMN_NAME);
      cell(tr, f.VALUE, "value");
      cell(tr, f.MESSAGE, "message");
      cell(tr, f.QUERY_REF);
      tr.addEventListener("click", function () { showDetail(f.FINDING_ID); });
      tbody.appendChild(tr);
    });
    view.pages = answer.pages;
    $("total-count").textContent = String(answer.total);
    $("page-info").textContent = "page " + answer.page + " of " + answer.pages;
    $("prev-page").disabled = answer.page <= 1;
    $("next-page").disabled = answer.page >= answer.pages;
    $("no-match").hidden = answer.total > 0;
    if (firstRender) {
      firstRender = false;
      window.__trialdwFirstRender = performance.now();  // read by the benchmark
    }
    body.dataset.loaded = String((parseInt(body.dataset.loaded || "0", 10) || 0) + 1);
  }
  function load() {
    writeHash();
    return api("/api/findings?" + query()).then(function (answer) {
      if (!answer.ok) { throw new Error(answer.body.detail || "could not load findings"); }
      $("load-error").hidden = true;
      renderRows(answer.body);
    }).catch(function (error) {
      $("load-error").textContent = String(error.message || error);
      $("load-error").hidden = false;
    });
  }

  // ---------------------------------------------------------------- the detail panel
  var DETAIL_FIELDS = [
    ["State", "STATE"], ["Status", "STATUS"], ["Study", "STUDYID"], ["Site", "SITEID"], ["Domain", "DOMAIN"],
    ["Subject", "USUBJID"], ["Record key", "RECORD_KEY"], ["File", "SOURCE_FILE"], ["Line", "SOURCE_LINE"],
    ["Column", "COLUMN_NAME"], ["Value", "VALUE"], ["Rule", "RULE"], ["Severity", "SEVERITY"],
    ["Category", "CATEGORY"], ["Message", "MESSAGE"], ["Query ref", "QUERY_REF"],
    ["First seen", "FIRST_SEEN_TRANSFER"], ["Last seen", "LAST_SEEN_TRANSFER"], ["Resolved in", "RESOLVED_TRANSFER"]
  ];
  function renderDetail(f) {
    $("detail").hidden = false;
    $("detail-id").textContent = f.FINDING_ID;
    var dl = $("detail-fields");
    clear(dl);
    DETAIL_FIELDS.forEach(function (pair) {
      var dt = document.createElement("dt"); dt.textContent = pair[0]; dl.appendChild(dt);
      var dd = document.createElement("dd");
      if (pair[1] === "STATE") { dd.appendChild(stateBadge(f.STATE, f.STATE_REASON)); }
      else { dd.textContent = f[pair[1]] === null || f[pair[1]] === undefined ? "" : String(f[pair[1]]); }
      dl.appendChild(dd);
    });
    var occurrences = $("detail-occurrences").querySelector("tbody");
    clear(occurrences);
    f.occurrences.forEach(function (o) {
      var tr = document.createElement("tr");
      cell(tr, o.TRANSFER_ID); cell(tr, o.SOURCE_FILE); cell(tr, o.SOURCE_LINE, "num"); cell(tr, o.VALUE, "value");
      occurrences.appendChild(tr);
    });
    var history = $("detail-history").querySelector("tbody");
    clear(history);
    f.history.forEach(function (e) {
      var tr = document.createElement("tr");
      tr.dataset.entry = String(e.ENTRY_ID);
      cell(tr, String(e.AT).replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, ""));
      cell(tr, e.BY, "by");
      cell(tr, label(e.FROM_STATE));
      cell(tr, label(e.TO_STATE), "to");
      cell(tr, label(e.REASON));
      cell(tr, e.QUERY_REF);
      cell(tr, e.COMMENT, "comment");
      history.appendChild(tr);
    });
    $("history-empty").hidden = f.history.length > 0;
    view.selectedState = f.STATE;
    if (canEdit) {
      $("annotate-message").textContent = "";
      $("annotate-message").className = "";
    }
  }
  function showDetail(id) {
    view.selected = id;
    writeHash();
    Array.prototype.forEach.call(document.querySelectorAll("#findings-body tr"), function (tr) {
      tr.className = tr.dataset.id === id ? "selected" : "";
    });
    return api("/api/findings/" + encodeURIComponent(id)).then(function (answer) {
      if (answer.ok) { renderDetail(answer.body); }
      else { $("detail").hidden = true; }
    });
  }

  // ---------------------------------------------------------------- counts and rule summary
  function refreshSummary() {
    return api("/api/summary").then(function (answer) {
      if (!answer.ok) { return; }
      var c = answer.body.counts;
      var values = {
        "open-reject": c.open_reject, "open-warning": c.open_warning, "new": c.new_since,
        "resolved-since": c.resolved_since, "resolved-total": c.resolved_total
      };
      Object.keys(labels).forEach(function (s) { if (("state_" + s) in c) { values["state-" + s] = c["state_" + s]; } });
      Array.prototype.forEach.call(document.querySelectorAll("[data-count]"), function (card) {
        if (card.dataset.count in values) { card.querySelector("dd").textContent = String(values[card.dataset.count]); }
      });
      var tbody = document.querySelector("#rule-summary tbody");
      clear(tbody);
      answer.body.rules.forEach(function (r) {
        var tr = document.createElement("tr");
        tr.dataset.rule = r.RULE;
        var button = document.createElement("button");
        button.type = "button"; button.className = "link"; button.dataset.filterRule = r.RULE; button.textContent = r.RULE;
        cell(tr, "").appendChild(button);
        cell(tr, r.SEVERITY); cell(tr, r.CATEGORY); cell(tr, r.DOMAINS);
        ["FINDINGS", "OPEN", "IN_QUERY", "CLOSED", "SITES_AFFECTED"].forEach(function (k) { cell(tr, r[k], "num"); });
        cell(tr, r.SITES);
        tbody.appendChild(tr);
      });
    });
  }

  // ---------------------------------------------------------------- changes
  function setupForm() {
    var form = $("annotate");
    if (!form) { return; }
    var state = $("annotate-state");
    function showReason() { $("annotate-reason-row").hidden = state.value !== "closed"; }
    state.addEventListener("change", showReason);
    showReason();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var payload = {
        state: state.value,
        comment: $("annotate-comment").value || null,
        query_ref: $("annotate-query-ref").value || null,
        reason: state.value === "closed" ? $("annotate-reason").value : null,
        expected_state: view.selectedState
      };
      var message = $("annotate-message");
      $("annotate-submit").disabled = true;
      api("/api/findings/" + encodeURIComponent(view.selected) + "/annotations", {
        method: "POST", body: JSON.stringify(payload)
      }).then(function (answer) {
        if (answer.status === 201) {
          $("annotate-comment").value = "";
          $("annotate-query-ref").value = "";
          renderDetail(answer.body.finding);
          message.textContent = "Recorded: " + label(answer.body.entry.FROM_STATE) + " → " + label(answer.body.entry.TO_STATE);
          message.className = "ok";
          return Promise.all([load(), refreshSummary()]);
        }
        message.textContent = typeof answer.body.detail === "string" ? answer.body.detail : "not recorded";
        message.className = "error";
        return null;
      }).catch(function (error) {
        message.textContent = String(error.message || error);
        message.className = "error";
      }).then(function () { $("annotate-submit").disabled = false; });
    });
  }

  // ---------------------------------------------------------------- wiring
  selects.forEach(function (s) { s.addEventListener("change", function () { view.page = 1; load(); }); });
  $("prev-page").addEventListener("click", function () { if (view.page > 1) { view.page -= 1; load(); } });
  $("next-page").addEventListener("click", function () { if (view.page < view.pages) { view.page += 1; load(); } });
  document.getElementById("rule-summary").addEventListener("click", function (event) {
    var rule = event.target && event.target.dataset ? event.target.dataset.filterRule : null;
    if (!rule) { return; }
    var select = $("filter-rule");
    select.value = rule;
    view.page = 1;
    load();
    select.scrollIntoView();
  });
  $("logout").addEventListener("click", function () {
    api("/api/logout", { method: "POST" }).then(function () { window.location.assign("/login"); });
  });
  setupForm();
  readHash();
  load().then(function () { if (view.selected) { showDetail(view.selected); } });
})();
