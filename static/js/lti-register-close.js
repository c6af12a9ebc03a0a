// LTI Dynamic Registration 1.0, 3.7: the registration is done; tell the LMS (the window or frame
// that opened this page) that it may close it. The message carries nothing secret, so any
// origin may receive it.
(function () {
  "use strict";
  if (!document.getElementById("lti-registered")) return;
  var message = { subject: "org.imsglobal.lti.close" };
  var targets = [window.opener, window.parent !== window ? window.parent : null];
  targets.forEach(function (target) {
    if (!target) return;
    try {
      target.postMessage(message, "*");
    } catch (e) {
      /* a closed opener: nothing to tell */
    }
  });
})();
