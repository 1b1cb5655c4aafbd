// Live pages: when the server says the read models moved on, fetch this
// page again and swap its live region in place, keeping focus and open
// disclosures where they were. No inline handlers, so the page's Content
// Security Policy can forbid inline script.
(function () {
  "use strict";
  var region = document.getElementById("live");
  if (!region || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var status = document.getElementById("live-status");
  var busy = false;
  var again = false;

  function focusKey(el) {
    if (!el || !region.contains(el)) {
      return null;
    }
    if (el.id) {
      return "#" + CSS.escape(el.id);
    }
    var href = el.getAttribute("href");
    return href ? '[href="' + CSS.escape(href) + '"]' : null;
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (resp) {
        return resp.ok ? resp.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("live");
        if (!next) {
          return;
        }
        var key = focusKey(document.activeElement);
        var open = [];
        region.querySelectorAll("details[open][id]").forEach(function (d) {
          open.push(d.id);
        });
        region.replaceChildren.apply(region, Array.prototype.slice.call(next.childNodes).map(function (n) {
          return document.importNode(n, true);
        }));
        open.forEach(function (id) {
          var d = document.getElementById(id);
          if (d) {
            d.open = true;
          }
        });
        if (key) {
          var el = region.querySelector(key);
          if (el) {
            el.focus({ preventScroll: true });
          }
        }
        if (doc.body.dataset.position) {
          document.body.dataset.position = doc.body.dataset.position;
        }
        if (status) {
          status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
        }
      })
      .catch(function () {
        // The next event tries again; a failed refresh leaves the page as it was.
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var since = document.body.dataset.position || "0";
  var source = new EventSource("/ui/live?since=" + encodeURIComponent(since));
  source.addEventListener("position", refresh);
})();
