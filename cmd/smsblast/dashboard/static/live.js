// smsblast dashboard: live refresh. Every two seconds, while the tab is
// visible, fetch the page's live parts and replace those that changed. The
// pages work without this script; it only saves the reload.
(function () {
  "use strict";
  var main = document.querySelector("[data-live-url]");
  if (!main || !window.fetch) {
    return;
  }
  var url = main.getAttribute("data-live-url");
  var interval = 2000;
  var timer = null;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(tick, interval);
  }

  function apply(regions) {
    Object.keys(regions).forEach(function (name) {
      var el = document.querySelector('[data-live="' + name + '"]');
      var r = regions[name];
      if (el && el.getAttribute("data-h") !== r.h) {
        el.innerHTML = r.html;
        el.setAttribute("data-h", r.h);
      }
    });
  }

  // known lists the regions' hashes, so the server sends only what changed.
  function known() {
    var parts = [];
    document.querySelectorAll("[data-live]").forEach(function (el) {
      parts.push(el.getAttribute("data-live") + "." + el.getAttribute("data-h"));
    });
    return parts.join(",");
  }

  function tick() {
    if (document.hidden) {
      return; // visibilitychange restarts it
    }
    var sep = url.indexOf("?") < 0 ? "?" : "&";
    fetch(url + sep + "known=" + encodeURIComponent(known()), { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (res.status === 401 || res.status === 403) {
          return null; // logged out: stop, the next navigation asks to log in
        }
        if (!res.ok) {
          throw new Error("HTTP " + res.status);
        }
        return res.json();
      })
      .then(function (data) {
        if (data) {
          apply(data.regions);
          main.removeAttribute("data-live-error");
          schedule();
        }
      })
      .catch(function () {
        main.setAttribute("data-live-error", "");
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      tick();
    }
  });
  schedule();
})();
