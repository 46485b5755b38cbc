"""The page's inline CSS and JavaScript (no network: the page must open from a file share).

The script only shows and hides rows that the server already rendered as
escaped HTML; it never builds markup from data, so no site value can become
markup through it.
"""

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #555; margin: 0 0 1rem; }
.counts { display: flex; flex-wrap: wrap; gap: .75rem; margin: 0; }
.count { border: 1px solid #ccd; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
.count dt { font-size: .8rem; color: #555; } .count dd { margin: 0; font-size: 1.6rem; font-weight: 600; }
.count.reject dd { color: #b00020; } .count.new dd { color: #8a5a00; } .count.resolved dd { color: #1b6e20; }
table { border-collapse: collapse; margin: .25rem 0 .75rem; }
table.findings { width: 100%; }
table.findings td:nth-child(4) { overflow-wrap: anywhere; max-width: 16rem; }
th, td { border: 1px solid #dde; padding: .2rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f3f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.value, td.message { max-width: 28rem; overflow-wrap: anywhere; white-space: pre-wrap; }
tr.status-rejected td, td.mismatch { background: #fde8ea; }
tr.status-incomplete td { color: #666; font-style: italic; }
tr.status-superseded td { color: #666; }
tr.pull-refused td, tr.pull-failed td { background: #fde8ea; }
tr.pull-incomplete td { color: #666; font-style: italic; }
td.pulled { overflow-wrap: anywhere; max-width: 18rem; font-size: .85rem; }
.badge { border-radius: 3px; padding: 0 .3rem; font-size: .75rem; font-weight: 600; }
.badge.new { background: #ffe9b3; } .badge.resolved { background: #d7f0d8; }
.sev-reject { color: #b00020; font-weight: 600; }
.filters { position: sticky; top: 0; background: #fff; padding: .5rem 0; border-bottom: 1px solid #dde;
           display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; z-index: 1; }
.filters label { display: flex; flex-direction: column; font-size: .8rem; color: #555; }
details.group { margin: .3rem 0 .3rem 1rem; } details.site { margin-left: 0; }
details.group > summary { cursor: pointer; font-weight: 600; }
details.site > summary { font-size: 1.05rem; margin-top: .6rem; }
summary .n { font-weight: 400; color: #555; }
"""

# Filter = every <select data-filter="X"> whose value is "" (any) or equals the
# row's data-X attribute. Groups with no visible row are hidden; counts follow.
JS = """
(function () {
  "use strict";
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  function apply() {
    var shown = 0;
    document.querySelectorAll("tr.finding").forEach(function (row) {
      var visible = selects.every(function (s) { return s.value === "" || row.dataset[s.dataset.filter] === s.value; });
      row.hidden = !visible;
      if (visible) { shown += 1; }
    });
    document.querySelectorAll("details.group").forEach(function (group) {
      var n = group.querySelectorAll("tr.finding:not([hidden])").length;
      group.hidden = n === 0;
      var label = group.querySelector(":scope > summary .n");
      if (label) { label.textContent = "(" + n + ")"; }
    });
    document.getElementById("shown-count").textContent = String(shown);
    document.getElementById("no-match").hidden = shown > 0;
  }
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  apply();
})();
"""
