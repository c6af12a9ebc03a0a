// Deep linking: the signed response goes back to the LMS by a form post (LTI Deep Linking 2.0,
// 4.2). Posted at once here; without script, the form's own button does it.
(function () {
  "use strict";
  var form = document.getElementById("lti-deep-link-return");
  if (form && form.dataset.autoSubmit === "true") form.submit();
})();
