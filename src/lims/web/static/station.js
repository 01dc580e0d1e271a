// The station dashboard: each case's countdown to its next deadline, updated every half minute from its
// data-deadline (the server's text is right when the page is rendered; the server's clock sets the offset).
(function () {
  "use strict";
  var texts = document.getElementById("clock-texts");
  var timers = document.querySelectorAll(".countdown[data-deadline]");
  if (!texts || !timers.length) { return; }
  var fill = function (format, values) {
    return format.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  };
  var words = function (seconds) {
    var span = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(span / 1440), hours = Math.floor((span % 1440) / 60), minutes = span % 60;
    var time = days ? fill(texts.dataset.days, { days: days, hours: hours })
      : hours ? fill(texts.dataset.hours, { hours: hours, minutes: minutes })
      : fill(texts.dataset.minutes, { minutes: minutes });
    return fill(seconds >= 0 ? texts.dataset.left : texts.dataset.over, { time: time });
  };
  var first = timers[0].dataset.now ? Date.parse(timers[0].dataset.now) : Date.now();
  var offset = isNaN(first) ? 0 : first - Date.now();
  var tick = function () {
    var now = Date.now() + offset;
    timers.forEach(function (el) {
      var at = Date.parse(el.dataset.deadline);
      if (isNaN(at)) { return; }
      var seconds = Math.floor((at - now) / 1000);
      el.textContent = words(seconds);
      var line = el.closest(".deadline");
      if (line) { line.classList.toggle("over", seconds < 0); }
    });
  };
  tick();
  window.setInterval(tick, 30000);
})();
