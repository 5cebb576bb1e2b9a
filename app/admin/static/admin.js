/*
 * Shared admin behaviour (no inline scripts: the Content-Security-Policy forbids them).
 * - <time datetime> shown in the agent's local time
 * - forms with data-confirm ask before submitting
 * - window.adminUI: small DOM helpers for inbox.js and thread.js (text only, never innerHTML)
 */
(function () {
  "use strict";

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function localText(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return null;
    var now = new Date();
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (d.toDateString() === now.toDateString()) return "today " + hm;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + hm;
  }

  function localize(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var iso = times[i].getAttribute("datetime");
      var text = iso && localText(iso);
      if (text) {
        times[i].title = times[i].title || iso;
        times[i].textContent = text;
      }
    }
  }

  // el("span", {className: "badge", title: "x"}, "text", child, ...): text becomes a text node.
  function el(tag, props) {
    var node = document.createElement(tag);
    var key;
    for (key in props || {}) {
      if (key === "dataset") {
        for (var d in props.dataset) node.dataset[d] = props.dataset[d];
      } else if (key === "attrs") {
        for (var a in props.attrs) node.setAttribute(a, props.attrs[a]);
      } else {
        node[key] = props[key];
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function timeTag(iso, text) {
    var t = el("time", { attrs: { datetime: iso || "" } }, text || "");
    localize(el("div", {}, t));
    return t;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (r) {
        if (r.status === 401) {
          window.location.reload();
          throw new Error("signed out");
        }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }
    );
  }

  // Poll `fn` every `ms` while the tab is visible; one request at a time.
  function every(ms, fn) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      Promise.resolve()
        .then(fn)
        .catch(function () {})
        .then(function () {
          busy = false;
        });
    }
    window.setInterval(tick, ms);
    document.addEventListener("visibilitychange", tick);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
  });

  window.adminUI = { el: el, timeTag: timeTag, localize: localize, getJSON: getJSON, every: every };
})();
