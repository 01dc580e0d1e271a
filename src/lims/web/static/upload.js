// Photos are made smaller in the browser before they are sent (at most 1600 px on the long side, JPEG 0.85) and
// sent with a progress bar. Without JavaScript, or where a step fails, the form is sent as it is.
(function () {
  "use strict";
  var MAX_SIDE = 1600, QUALITY = 0.85, KEEP_BELOW = 600 * 1024;

  function load(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () { return createImageBitmap(file); });
    }
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("not an image")); };
      img.src = url;
    });
  }

  function downscale(file) {
    if (!file || !/^image\//.test(file.type) || !document.createElement("canvas").toBlob) return Promise.resolve(file);
    return load(file).then(function (img) {
      var w = img.width, h = img.height, scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      if (scale === 1 && file.size <= KEEP_BELOW) return file;
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(w * scale));
      canvas.height = Math.max(1, Math.round(h * scale));
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      if (img.close) img.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob && blob.size < file.size ? blob : file); }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return file; });
  }

  function show(form, percent) {
    var bar = form.querySelector("[data-progress]"), text = form.querySelector("[data-progress-text]");
    if (bar) { bar.hidden = false; bar.value = percent; }
    if (text) { text.hidden = false; text.textContent = (text.getAttribute("data-label") || "") + " " + percent + "%"; }
  }

  function send(form, data) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) show(form, Math.round(e.loaded * 100 / e.total)); };
    xhr.onload = function () {
      var here = new URL(form.action, location.href).href;
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL && xhr.responseURL !== here) {
        location.href = xhr.responseURL;  // the page the server sent us on to (after its 303)
        return;
      }
      document.open();
      document.write(xhr.responseText);  // the server's page saying why (too large, no barcode …)
      document.close();
    };
    xhr.onerror = function () { form.dataset.plain = "1"; form.submit(); };
    show(form, 0);
    xhr.send(data);
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.plain || !window.FormData || !window.XMLHttpRequest || !window.Promise) return;
      var inputs = Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (i) { return i.files && i.files.length; });
      if (!inputs.length) return;  // nothing to make smaller: the form goes as it is
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      var data = new FormData(form);
      Promise.all(inputs.map(function (input) {
        return downscale(input.files[0]).then(function (blob) {
          var name = blob === input.files[0] ? blob.name : (input.files[0].name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
          data.set(input.name, blob, name);
        });
      })).then(function () { send(form, data); }, function () { form.dataset.plain = "1"; form.submit(); });
    });
  });
})();
