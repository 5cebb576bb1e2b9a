/*
 * The inbox refreshes its list without a reload: on a push event (desk.js), or by polling the
 * same page's JSON every 2 s where there is no push (SQLite), and redraws the rows with DOM calls
 * and textContent (message text is hostile input). The rows' order is kept in sessionStorage so
 * j/k on a thread page go to the next and previous thread.
 */
(function () {
  "use strict";
  var POLL_MS = 2000;

  function row(c) {
    var ui = window.adminUI;
    var el = ui.el;
    var top = el("span", { className: "row-top" }, el("span", { className: "who" }, c.label));
    if (c.named) top.appendChild(el("span", { className: "phone" }, c.phone));
    if (c.unread) top.appendChild(el("span", { className: "badge badge-unread", title: "unread messages" }, String(c.unread)));
    if (c.opted_out) top.appendChild(el("span", { className: "badge badge-optout" }, "opted out"));
    if (c.flagged) top.appendChild(el("span", { className: "badge badge-flag", title: c.flag_reason }, "flagged"));
    if (c.status === "closed") top.appendChild(el("span", { className: "badge" }, "closed"));
    c.tags.forEach(function (tag) {
      top.appendChild(el("span", { className: "tag" }, tag));
    });
    top.appendChild(el("span", { className: "spacer" }));
    if (c.assignee) top.appendChild(el("span", { className: "assignee" }, c.assignee));
    top.appendChild(ui.timeTag(c.at, c.at_text));
    var link = el("a", { href: c.url }, top, el("span", { className: "preview" }, c.preview));
    var cls = "thread-row" + (c.unread ? " is-unread" : "") + (c.status === "closed" ? " is-closed" : "");
    return el("li", { className: cls, dataset: { id: String(c.id) } }, link);
  }

  function remember(list) {
    var ids = Array.prototype.map.call(list.querySelectorAll(".thread-row"), function (li) {
      return Number(li.dataset.id);
    });
    try {
      window.sessionStorage.setItem("desk.threads", JSON.stringify(ids));
    } catch (e) {
      /* private mode: j/k on a thread page then go back to the inbox */
    }
  }

  function start() {
    var list = document.getElementById("threads");
    if (!list) return;
    remember(list);
    if (list.dataset.live !== "1") return;
    var empty = document.getElementById("threads-empty");
    var last = null;
    function refresh() {
      return window.adminUI.getJSON(list.dataset.pollUrl).then(function (data) {
        var signature = JSON.stringify(data.conversations);
        if (signature === last) return;
        last = signature;
        var fragment = document.createDocumentFragment();
        data.conversations.forEach(function (c) {
          fragment.appendChild(row(c));
        });
        var selected = list.querySelector(".thread-row.is-selected");
        var selectedId = selected ? selected.dataset.id : null;
        // the row holding the keyboard focus (j/k or Tab) keeps it through the redraw
        var active = document.activeElement;
        var focused = active && list.contains(active) ? active.closest(".thread-row") : null;
        var focusedId = focused ? focused.dataset.id : null;
        list.replaceChildren(fragment);
        if (selectedId) {
          var again = list.querySelector('.thread-row[data-id="' + selectedId + '"]');
          if (again) again.classList.add("is-selected");
        }
        if (focusedId) {
          var link = list.querySelector('.thread-row[data-id="' + focusedId + '"] a');
          if (link) link.focus();
        }
        remember(list);
        if (empty) empty.classList.toggle("hidden", data.conversations.length > 0);
      });
    }
    if (window.desk && window.desk.live) {
      var run = window.desk.coalesce(refresh);
      window.desk.on(function (data) {
        if (data.k !== "msg" && data.k !== "note") run();
      });
    } else {
      window.adminUI.every(POLL_MS, refresh);
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
