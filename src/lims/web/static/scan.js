// Camera scanning with the browser's BarcodeDetector where it exists; where it does not (iOS, WeChat), or the
// camera is refused, a photo of the code: shrunk in the browser (at most 1600 px on its long side, JPEG), sent to
// the scan endpoint with a progress bar, and the code read from it fills the field. Typing works everywhere.
(function () {
  "use strict";
  var LONG_SIDE = 1600;
  function shrink(file) {  // a JPEG of at most LONG_SIDE px on its long side; the file itself where that fails
    if (!window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.type === "image/jpeg") return file;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.9);
      });
    }).catch(function () { return file; });
  }
  function photoScan(box) {
    var input = box.querySelector("[data-photo-input]");
    var bar = box.querySelector("[data-photo-progress]");
    var status = box.querySelector("[data-photo-status]");
    var target = document.querySelector(box.getAttribute("data-fill"));
    box.hidden = false;
    function say(key) { status.textContent = box.getAttribute("data-text-" + key) || ""; }
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      bar.value = 0; bar.hidden = false; say("sending");
      shrink(file).then(function (image) {
        var body = new FormData();
        body.append("image", image, "photo.jpg");
        var request = new XMLHttpRequest();
        request.open("POST", "/api/v1/scan");
        request.responseType = "json";
        request.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
        request.onload = function () {
          bar.hidden = true; input.value = "";
          var codes = request.status === 200 && request.response && request.response.codes;
          if (!codes) { say("failed"); return; }
          if (!codes.length) { say("none"); return; }
          target.value = codes[0].text;
          target.dispatchEvent(new Event("input", { bubbles: true }));
          target.focus();
          say("found");
        };
        request.onerror = function () { bar.hidden = true; say("failed"); };
        request.send(body);
      });
    });
  }
  var camera = ("BarcodeDetector" in window) && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  document.querySelectorAll("[data-photo-scan]").forEach(function (box) {
    if (!camera) photoScan(box);
    else box.addEventListener("camera-refused", function () { photoScan(box); }, { once: true });
  });
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
      }).catch(function () {
        halt(); box.hidden = true;
        var photo = box.parentNode.querySelector("[data-photo-scan]");
        if (photo) photo.dispatchEvent(new Event("camera-refused"));
      });
    });
  });
})();
