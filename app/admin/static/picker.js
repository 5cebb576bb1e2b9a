/*
 * Saved replies in the reply box: "/" and part of a title lists the matches (asked from the
 * server, rendered for this thread's contact by the rule-reply sandbox); arrow keys move, Enter
 * or a click inserts the highlighted one in place of "/…", Escape closes. The inserted text
 * fires an input event so the segment counter updates.
 */
(function () {
  "use strict";
  var TRIGGER = /(^|\s)\/([^\n\/]{0,40})$/;

  function start() {
    var box = document.getElementById("reply-body");
    var list = document.getElementById("picker");
    if (!box || !list || !box.dataset.pickerUrl) return;
    var items = [];
    var active = 0;
    var token = null; // {start, end} of "/query" in the box
    var asked = 0;
    var suppress = false;

    function close() {
      items = [];
      token = null;
      list.replaceChildren();
      list.classList.add("hidden");
      box.removeAttribute("aria-activedescendant");
      box.setAttribute("aria-expanded", "false");
    }

    function draw() {
      var el = window.adminUI.el;
      list.replaceChildren();
      if (!items.length) {
        list.appendChild(el("li", { className: "picker-empty", attrs: { role: "option", "aria-disabled": "true" } }, "No saved reply matches"));
      }
      items.forEach(function (item, i) {
        var option = el("li", {
          id: "picker-option-" + i,
          className: "picker-option" + (i === active ? " active" : ""),
          attrs: { role: "option", "aria-selected": i === active ? "true" : "false" },
          dataset: { index: String(i) },
        }, el("strong", {}, item.title), el("span", { className: "picker-text" }, item.error ? "error: " + item.error : item.text));
        list.appendChild(option);
      });
      list.classList.remove("hidden");
      box.setAttribute("aria-expanded", "true");
      if (items.length) box.setAttribute("aria-activedescendant", "picker-option-" + active);
    }

    function ask() {
      var before = box.value.slice(0, box.selectionStart);
      var match = TRIGGER.exec(before);
      if (!match || box.selectionStart !== box.selectionEnd) {
        close();
        return;
      }
      token = { start: before.length - match[2].length - 1, end: before.length };
      var mine = ++asked;
      var url = box.dataset.pickerUrl + "?q=" + encodeURIComponent(match[2]);
      window.adminUI.getJSON(url).then(function (data) {
        if (mine !== asked || !token) return;
        items = data.replies;
        active = 0;
        draw();
      }).catch(close);
    }

    function insert(index) {
      var item = items[index];
      if (!item || item.error || !token) return;
      var value = box.value;
      box.value = value.slice(0, token.start) + item.text + value.slice(token.end);
      var caret = token.start + item.text.length;
      box.setSelectionRange(caret, caret);
      close();
      suppress = true;
      box.dispatchEvent(new Event("input", { bubbles: true }));
      suppress = false;
      box.focus();
    }

    box.addEventListener("input", function () {
      if (!suppress) ask();
    });
    box.addEventListener("keydown", function (event) {
      if (list.classList.contains("hidden")) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!items.length) return;
        active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        draw();
      } else if (event.key === "Enter" || event.key === "Tab") {
        if (!items.length) return;
        event.preventDefault();
        insert(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    box.addEventListener("blur", function () {
      window.setTimeout(close, 150);
    });
    list.addEventListener("mousedown", function (event) {
      var option = event.target.closest(".picker-option");
      if (!option) return;
      event.preventDefault();
      insert(Number(option.dataset.index));
    });
    // "/…" typed before this script ran (a slow page, a fast typist) fired no input event we
    // heard: answer it now, as if it had just been typed.
    if (document.activeElement === box && box.value) ask();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start(); // added after the page had loaded
  }
})();
