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
