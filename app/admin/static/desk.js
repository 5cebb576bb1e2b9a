/*
 * The team desk's shared behaviour on the inbox and thread pages (no inline script: strict CSP).
 * - Push: one EventSource per tab on /admin/events (PostgreSQL LISTEN/NOTIFY behind it); pages
 *   subscribe with window.desk.on(fn). Without a stream URL (SQLite) the pages poll instead.
 * - The tab title shows the number of threads with unread messages, asked only on events.
 * - A browser notification, once the agent allowed it, for a new message in a thread assigned
 *   to them or to nobody (not for the thread they are looking at).
 * - Keyboard: j/k next/previous thread, r reply, e close, ? the list of keys.
 */
(function () {
  "use strict";
  var cfgNode = document.getElementById("desk-live");
  var cfg = cfgNode ? cfgNode.dataset : {};
  var handlers = [];
  var baseTitle = document.title;
  var me = Number(cfg.userId || 0);
  var live = false;

  function emit(data) {
    handlers.forEach(function (fn) {
      try {
        fn(data);
      } catch (e) {
        /* one page's handler must not stop the others */
      }
    });
  }

  // fn runs at most once at a time; calls while it runs make it run once more afterwards.
  function coalesce(fn) {
    var busy = false;
    var again = false;
    function run() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      again = false;
      Promise.resolve()
        .then(fn)
        .catch(function () {})
        .then(function () {
          busy = false;
          if (again) run();
        });
    }
    return run;
  }

  function connect() {
    if (!cfg.streamUrl || !window.EventSource) return false;
    var source = new EventSource(cfg.streamUrl);
    source.onmessage = function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      emit(data);
    };
    source.addEventListener("ended", function () {
      source.close();
      window.location.reload();
    });
    source.onopen = function () {
      // Whatever changed between drawing the page (or the last stream) and this stream starting
      // was told to nobody: catch up once.
      emit({ k: "resync" });
      document.documentElement.dataset.push = "open";
    };
    return true;
  }

  var refreshUnread = coalesce(function () {
    if (!cfg.unreadUrl) return null;
    return window.adminUI.getJSON(cfg.unreadUrl).then(function (data) {
      document.title = (data.unread > 0 ? "(" + data.unread + ") " : "") + baseTitle;
      document.documentElement.dataset.unread = String(data.unread);
    });
  });

  function viewing() {
    var list = document.getElementById("messages");
    return list ? Number(list.dataset.conversation) : 0;
  }

  function threadUrl(id) {
    return (cfg.inboxUrl || "/admin/") + "conversations/" + id;
  }

  function notify(data) {
    if (data.k !== "in" || !("Notification" in window) || Notification.permission !== "granted") return;
    if (data.a !== null && data.a !== undefined && Number(data.a) !== me) return;
    if (viewing() === Number(data.c) && document.visibilityState === "visible") return;
    var n = new Notification("New SMS", { body: data.p || "", tag: "conversation-" + data.c });
    n.onclick = function () {
      window.focus();
      window.location.href = threadUrl(data.c);
    };
  }

  function notificationButton() {
    var button = document.getElementById("notify-toggle");
    if (!button || !("Notification" in window) || Notification.permission !== "default") return;
    button.classList.remove("hidden");
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () {
        button.classList.add("hidden");
      });
    });
  }

  // Keyboard shortcuts ----------------------------------------------------------------------
  var KEYS = [
    ["j", "next thread"],
    ["k", "previous thread"],
    ["r", "write a reply"],
    ["e", "close the thread"],
    ["?", "show these keys"],
  ];

  function helpDialog() {
    var dialog = document.getElementById("keys-help");
    if (dialog) return dialog;
    var el = window.adminUI.el;
    var list = el("dl", { className: "keys" });
    KEYS.forEach(function (pair) {
      list.appendChild(el("dt", {}, el("kbd", {}, pair[0])));
      list.appendChild(el("dd", {}, pair[1]));
    });
    var close = el("button", { type: "button", className: "primary" }, "Close");
    dialog = el("dialog", { id: "keys-help", attrs: { "aria-labelledby": "keys-help-title" } },
      el("h2", { id: "keys-help-title" }, "Keyboard shortcuts"), list, close);
    close.addEventListener("click", function () {
      dialog.close();
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function storedThreads() {
    try {
      return JSON.parse(window.sessionStorage.getItem("desk.threads") || "[]");
    } catch (e) {
      return [];
    }
  }

  function moveThread(step) {
    var rows = document.querySelectorAll("#threads .thread-row");
    if (rows.length) {
      var current = document.querySelector("#threads .thread-row.is-selected");
      var index = Array.prototype.indexOf.call(rows, current);
      index = index < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, index + step));
      if (current) current.classList.remove("is-selected");
      rows[index].classList.add("is-selected");
      rows[index].querySelector("a").focus();
      return;
    }
    var here = viewing();
    if (!here) return;
    var ids = storedThreads();
    var at = ids.indexOf(here);
    var next = at < 0 ? null : ids[at + step];
    window.location.href = next ? threadUrl(next) : cfg.inboxUrl || "/admin/";
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var dialog = document.getElementById("keys-help");
    if (dialog && dialog.open && event.key !== "?") return;
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      moveThread(event.key === "j" ? 1 : -1);
    } else if (event.key === "r") {
      var box = document.getElementById("reply-body");
      if (box && !box.disabled) {
        event.preventDefault();
        box.focus();
      }
    } else if (event.key === "e") {
      var form = document.getElementById("close-form");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
    } else if (event.key === "?") {
      event.preventDefault();
      var help = helpDialog();
      if (help.open) help.close();
      else help.showModal();
    }
  }

  live = connect();
  window.desk = {
    live: live,
    on: function (fn) {
      handlers.push(fn);
    },
    coalesce: coalesce,
    threadUrl: threadUrl,
  };

  document.addEventListener("keydown", onKey);
  document.addEventListener("DOMContentLoaded", function () {
    notificationButton();
    if (!cfg.unreadUrl) return;
    refreshUnread();
    if (live) {
      window.desk.on(function (data) {
        if (data.k === "in" || data.k === "conv" || data.k === "resync") refreshUnread();
        notify(data);
      });
    } else {
      window.adminUI.every(2000, refreshUnread);
    }
  });
})();
