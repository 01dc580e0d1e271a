// The vehicle console: after a refused form, bring its reason into view and put the cursor where it was.
(function () {
  "use strict";
  var error = document.querySelector("[data-form-error]");
  if (!error) return;
  error.setAttribute("tabindex", "-1");
  error.scrollIntoView({ block: "center" });
  var form = error.parentNode.querySelector("form");
  var field = form && form.querySelector("input:invalid, select:invalid");
  (field || error).focus({ preventScroll: true });
})();
