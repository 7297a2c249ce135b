// Warns before the idle sign-out and lets the person stay signed in (HIPAA 164.312(a)(2)(iii),
// automatic logoff). The server's idle seconds left come from <body data-idle-seconds> and
// from the X-Idle-Seconds header of every htmx answer; polls never extend them
// (revcycle/polling.py), so a page left polling still reaches the end.
(function () {
  "use strict";
  var body = document.body;
  var url = body.dataset.sessionUrl;
  var banner = document.getElementById("idle-notice");
  if (!url || !banner) {
    return; // not signed in
  }
  var noticeSeconds = Number(body.dataset.idleNoticeSeconds);
  var timers = [];

  function schedule(secondsLeft) {
    timers.forEach(clearTimeout);
    var showIn = secondsLeft - noticeSeconds;
    banner.hidden = showIn > 0;
    // At the end, ask the server rather than trust this tab's clock: another tab may
    // have kept the session alive.
    timers = [setTimeout(check, (secondsLeft + 1) * 1000)];
    if (showIn > 0) {
      timers.push(setTimeout(function () { banner.hidden = false; }, showIn * 1000));
    }
  }

  function answer(response) {
    if (response.redirected || response.headers.get("HX-Redirect") || !response.ok) {
      window.location.reload(); // signed out: the reload lands on the sign-in page
      return undefined;
    }
    return response.json().then(function (data) { schedule(data.idle_seconds); });
  }

  function check() {
    // Sent as a poll: asking how long is left must not count as activity.
    fetch(url, { headers: { "HX-Request": "true", "X-Poll": "1" }, credentials: "same-origin" })
      .then(answer);
  }

  function stay() {
    var csrf = JSON.parse(body.getAttribute("hx-headers"))["X-CSRFToken"];
    fetch(url, { method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" })
      .then(answer);
  }

  banner.querySelector("button").addEventListener("click", stay);
  body.addEventListener("htmx:afterRequest", function (event) {
    var left = event.detail.xhr && event.detail.xhr.getResponseHeader("X-Idle-Seconds");
    if (left) {
      schedule(Number(left));
    }
  });
  schedule(Number(body.dataset.idleSeconds));
})();
