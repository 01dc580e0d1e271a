// The reviewer's queue: a "select all on this page" switch and the count of selected results per batch form.
(function () {
  "use strict";
  document.querySelectorAll("form.batch-bar").forEach(function (form) {
    var picks = function () { return document.querySelectorAll("input[data-pick][form='" + form.id + "']"); };
    var out = form.querySelector(".picked");
    var count = function () {
      var n = 0;
      picks().forEach(function (p) { if (p.checked) { n += 1; } });
      if (out) { out.textContent = (form.dataset.pickedLabel || "") + " " + n; }
    };
    var all = document.createElement("button");
    all.type = "button";
    all.className = "secondary";
    all.textContent = form.dataset.allLabel || "";
    all.addEventListener("click", function () {
      var list = picks();
      var every = Array.prototype.every.call(list, function (p) { return p.checked; });
      list.forEach(function (p) { p.checked = !every; });
      count();
    });
    if (all.textContent) { form.insertBefore(all, form.querySelector("button[type=submit]")); }
    picks().forEach(function (p) { p.addEventListener("change", count); });
    count();
  });
})();
