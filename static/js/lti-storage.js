// LTI client-side storage (1EdTech "LTI Client Side postMessages": lti.put_data / lti.get_data).
// Inside an LMS frame whose browser keeps no third-party cookies, the platform's own frame keeps
// the login's state for us. At login (data-action="put") this stores the state and nonce there,
// then goes on to the platform; at launch (data-action="get") it reads the state back and posts
// the launch again with it. Without an answer in time: on to the platform anyway (the cookie may
// still work), or, at launch, the "Open in a new window" section.
(function () {
  "use strict";
  var box = document.getElementById("lti-storage");
  if (!box) return;
  var data = box.dataset;
  var status = document.getElementById("lti-storage-status");
  var TIMEOUT_MS = 2000;
  var target = data.target === "_parent" ? window.parent : window.parent.frames[data.target];
  var origin = data.origin;
  var waiting = {};
  var counter = 0;

  function send(subject, fields, done) {
    if (!target || !origin || window.parent === window) {
      done(null);
      return;
    }
    var id = "tq-" + Date.now() + "-" + counter++;
    var message = { subject: subject, message_id: id };
    for (var key in fields) message[key] = fields[key];
    var timer = setTimeout(function () {
      delete waiting[id];
      done(null);
    }, TIMEOUT_MS);
    waiting[id] = function (answer) {
      clearTimeout(timer);
      done(answer);
    };
    try {
      target.postMessage(message, origin);
    } catch (e) {
      clearTimeout(timer);
      delete waiting[id];
      done(null);
    }
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || typeof event.data !== "object") return;
    var handler = waiting[event.data.message_id];
    if (!handler) return;
    delete waiting[event.data.message_id];
    handler(event.data.error ? null : event.data);
  });

  function put(key, value, done) {
    send("lti.put_data", { key: key, value: value }, done);
  }

  if (data.action === "put") {
    put("state_" + data.state, data.state, function () {
      put("nonce_" + data.nonce, data.nonce, function () {
        window.location.assign(data.next);
      });
    });
  } else if (data.action === "get") {
    send("lti.get_data", { key: "state_" + data.state }, function (answer) {
      if (answer && answer.value === data.state) {
        document.getElementById("lti-storage-state").value = answer.value;
        status.textContent = "Signing in.";
        box.submit();
        return;
      }
      status.textContent = "Your LMS did not confirm this sign-in.";
      document.getElementById("lti-new-window").hidden = false;
    });
  }
})();
