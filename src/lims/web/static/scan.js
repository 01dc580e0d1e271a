// Camera scanning with the browser's BarcodeDetector where it exists; photo upload and typing work everywhere.
(function () {
  "use strict";
  function go(target, code) {
    try {
      var url = new URL(code);
      if (url.pathname.indexOf("/s/") === 0) { location.href = url.pathname + url.search; return; }
    } catch (e) { /* not a URL */ }
    location.href = target + encodeURIComponent(code.trim());
  }
  document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (!input.files || !input.files.length) return;
      if (input.form.requestSubmit) input.form.requestSubmit(); else input.form.submit();  // upload.js may shrink it first
    });
  });
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  document.querySelectorAll("[data-camera]").forEach(function (box) {
    var start = box.querySelector("[data-scan-start]");
    var stop = box.querySelector("[data-scan-stop]");
    var video = box.querySelector("[data-scan-video]");
    var hint = box.querySelector("[data-scan-hint]");
    var stream = null, timer = null;
    box.hidden = false;
    function halt() {
      if (timer) clearInterval(timer);
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null; timer = null; video.hidden = true; hint.hidden = true; stop.hidden = true; start.hidden = false;
    }
    stop.addEventListener("click", halt);
    start.addEventListener("click", function () {
      var detector = new window.BarcodeDetector();
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
        stream = s; video.srcObject = s; video.hidden = false; hint.hidden = false; stop.hidden = false; start.hidden = true;
        video.play();
        timer = setInterval(function () {
          detector.detect(video).then(function (codes) {
            if (!codes.length) return;
            var code = codes[0].rawValue;
            halt();
            var fill = start.getAttribute("data-fill");
            if (fill) { var input = document.querySelector(fill); input.value = code; input.focus(); }
            else go(start.getAttribute("data-target") || "/trace/", code);
          }).catch(function () {});
        }, 250);
      }).catch(function () { halt(); box.hidden = true; });
    });
  });
})();
