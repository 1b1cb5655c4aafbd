// "Has this been tried?": while the registration form's title and
// hypothesis are typed, ask the server (debounced) for the experiments
// most like them and swap the panel's results in place. Without this
// script the panel's button sends the form to be checked instead.
(function () {
  "use strict";
  var form = document.getElementById("register-form");
  var results = document.getElementById("tried-results");
  if (!form || !results || !window.fetch || !window.DOMParser) {
    return;
  }
  var fields = [form.elements.namedItem("title"), form.elements.namedItem("hypothesis")];
  var timer = null;
  var last = null;
  var asked = 0;

  function text() {
    return fields.map(function (f) { return f ? f.value : ""; }).join("\n").trim();
  }

  function check() {
    var t = text();
    if (t === last) {
      return;
    }
    last = t;
    var mine = ++asked;
    fetch("/experiments/similar?text=" + encodeURIComponent(t), { credentials: "same-origin" })
      .then(function (resp) {
        // A redirect means the sign-in ended: keep the panel as it is.
        return resp.ok && !resp.redirected ? resp.text() : null;
      })
      .then(function (html) {
        if (html === null || mine !== asked) {
          return; // a later request answers for newer text
        }
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("tried-results");
        if (next) {
          results.replaceChildren.apply(results, Array.prototype.slice.call(next.childNodes).map(function (n) {
            return document.importNode(n, true);
          }));
        }
      })
      .catch(function () {
        last = null; // try again on the next keystroke
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  }

  fields.forEach(function (f) {
    if (f) {
      f.addEventListener("input", schedule);
    }
  });
  if (text() !== "") {
    schedule();
  }
})();
