// Today's results and the held readings arrive over server-sent events; each stream is short and the browser
// reconnects. New results are added as rows (cards on a phone); when the held readings change, the page fetches
// the server-rendered list and adds the new ones, removes the settled ones, and updates the counts.
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
  var heads = Array.prototype.map.call(box.querySelectorAll("thead th"), function (th) { return th.textContent; });
  var source = new EventSource(box.getAttribute("data-events"));
  source.onopen = function () { dot.classList.add("on"); };
  source.onerror = function () { dot.classList.remove("on"); };
  source.addEventListener("result", function (e) {
    var r = JSON.parse(e.data);
    if (rows.querySelector('[data-result="' + r.id + '"]')) return;
    var tr = document.createElement("tr");
    tr.className = r.judgement + " fresh";
    tr.setAttribute("data-result", r.id);
    [r.label, r.time, null, r.item, r.status_text].forEach(function (text, i) {
      var td = document.createElement("td");
      if (i === 2) {
        var badge = document.createElement("span");
        badge.className = "badge " + r.judgement;
        badge.textContent = r.judgement_text;
        td.appendChild(badge);
        if (r.value) td.appendChild(document.createTextNode(" " + r.value));
      } else td.textContent = text;
      if (i === 0) { td.className = "label-cell"; td.setAttribute("translate", "no"); }
      if (heads[i]) td.setAttribute("data-th", heads[i]);
      tr.appendChild(td);
    });
    rows.insertBefore(tr, rows.firstChild);
    if (empty) empty.hidden = true;
    if (count) count.textContent = String(Number(count.textContent) + 1);
    if (positives && r.judgement === "positive") positives.textContent = String(Number(positives.textContent) + 1);
  });

  var held = document.querySelector("[data-held-url]");
  if (!held) return;
  function setAll(selector, value) {
    document.querySelectorAll(selector).forEach(function (el) { el.textContent = String(value); });
  }
  function busy(item) {  // the tester is typing in this reading's form: leave it alone
    var active = document.activeElement;
    return active && item.contains(active) && active.tagName === "INPUT";
  }
  var fetching = false, again = false;
  function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(held.getAttribute("data-held-url"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-held-list]");
        var list = held.querySelector("[data-held-list]");
        if (!fresh || !list) return;
        var wanted = {};
        fresh.querySelectorAll("[data-held]").forEach(function (item) { wanted[item.getAttribute("data-held")] = item; });
        list.querySelectorAll("[data-held]").forEach(function (item) {
          if (!wanted[item.getAttribute("data-held")] && !busy(item)) item.remove();
        });
        var previous = null;
        Object.keys(wanted).forEach(function (id) {
          var here = list.querySelector('[data-held="' + id + '"]');
          if (!here) {
            here = document.importNode(wanted[id], true);
            here.classList.add("fresh");
            if (previous) previous.after(here); else list.prepend(here);
          }
          previous = here;
        });
        var none = list.querySelector("[data-held-none]");
        var left = list.querySelectorAll("[data-held]").length;
        if (none) none.hidden = left > 0;
        else if (!left) { var p = fresh.querySelector("[data-held-none]"); if (p) list.appendChild(document.importNode(p, true)); }
      })
      .catch(function () { /* the next change of the queue tries again */ })
      .then(function () { fetching = false; if (again) { again = false; refresh(); } });
  }
  source.addEventListener("held", function (e) {
    var queue = JSON.parse(e.data);
    setAll("[data-count-held]", queue.count);
    setAll("[data-count-held-positives]", queue.positives);
    var summary = document.querySelector("[data-held-summary]");
    if (summary) summary.classList.toggle("alert", queue.positives > 0);
    var badge = document.querySelector("[data-count-held-positives]");
    if (badge) badge.classList.toggle("positive", queue.positives > 0);
    var shown = Array.prototype.map.call(held.querySelectorAll("[data-held]"), function (item) {
      return Number(item.getAttribute("data-held"));
    });
    if (shown.join(",") !== queue.ids.join(",")) refresh();
  });
})();
