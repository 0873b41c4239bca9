// The search box of loomgit's review page: rows whose text holds every word typed stay,
// the others hide. The table itself needs no script.
(function () {
  "use strict";
  var q = document.getElementById("q");
  var label = document.getElementById("q-label");
  var count = document.getElementById("q-count");
  if (!q || !label) { return; }
  q.hidden = false;
  label.hidden = false;
  var rows = null;
  var texts = null;
  function run() {
    if (rows === null) {
      rows = Array.prototype.slice.call(document.querySelectorAll("tbody tr"));
      texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    }
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = texts[i];
      var hit = words.every(function (w) { return text.indexOf(w) !== -1; });
      rows[i].classList.toggle("miss", !hit);
      if (hit) { shown++; }
    }
    count.textContent = words.length ? shown + " of " + rows.length + " cases match" : "";
  }
  var timer = 0;
  q.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(run, 120);
  });
  if (q.value) { run(); }
})();
