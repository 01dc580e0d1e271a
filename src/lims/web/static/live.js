// Today's results arrive over server-sent events; each stream is short and the browser reconnects.
(function () {
  "use strict";
  var taskSelect = document.querySelector("[data-task-select]");
  if (taskSelect) taskSelect.addEventListener("change", function () {
    var option = taskSelect.options[taskSelect.selectedIndex];
    var point = option.getAttribute("data-point"), category = option.getAttribute("data-category");
    if (point) taskSelect.form.point_code.value = point;
    if (category) taskSelect.form.category_code.value = category;
  });
  var box = document.querySelector("[data-events]");
  if (!box || !window.EventSource) return;
  var rows = box.querySelector("[data-live-rows]");
  var empty = box.querySelector("[data-live-empty]");
  var dot = box.querySelector("[data-live-state]");
  var count = document.querySelector("[data-count-results]");
  var positives = document.querySelector("[data-count-positives]");
  var source = new EventSource(box.getAttribute("data-events"));
  source.onopen = function () { dot.classList.add("on"); };
  source.onerror = function () { dot.classList.remove("on"); };
  source.addEventListener("result", function (e) {
    var r = JSON.parse(e.data);
    if (rows.querySelector('[data-result="' + r.id + '"]')) return;
    var tr = document.createElement("tr");
    tr.className = r.judgement + " fresh";
    tr.setAttribute("data-result", r.id);
    [r.time, null, r.item, r.label, r.status_text].forEach(function (text, i) {
      var td = document.createElement("td");
      if (i === 1) {
        var badge = document.createElement("span");
        badge.className = "badge " + r.judgement;
        badge.textContent = r.judgement_text;
        td.appendChild(badge);
        if (r.value) td.appendChild(document.createTextNode(" " + r.value));
      } else td.textContent = text;
      if (i === 3) td.className = "nw";
      tr.appendChild(td);
    });
    rows.insertBefore(tr, rows.firstChild);
    if (empty) empty.hidden = true;
    if (count) count.textContent = String(Number(count.textContent) + 1);
    if (positives && r.judgement === "positive") positives.textContent = String(Number(positives.textContent) + 1);
  });
})();
