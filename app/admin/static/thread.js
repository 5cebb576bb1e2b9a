/*
 * A thread page: the live segment counter under the reply box (segments.js), new messages and
 * status changes without a reload (on a push event from desk.js, or polling messages.json every
 * 2 s where there is no push: SQLite), colleagues' private notes, and each message's receipt
 * history fetched when its <details> opens. Text is set with textContent, never innerHTML.
 */
(function () {
  "use strict";
  var POLL_MS = 2000;
  var MAX_SEGMENTS = 10;

  function counter() {
    var box = document.getElementById("reply-body");
    var out = document.getElementById("segment-counter");
    if (!box || !out || !window.smsSegments) return;
    function update() {
      var s = window.smsSegments(box.value);
      var used = s.perSegment - s.remaining;
      var text = s.encoding + " · " + used + "/" + s.perSegment + " · " + s.segments + " segment" + (s.segments === 1 ? "" : "s");
      if (s.encoding === "UCS-2" && box.value) text += " (a character outside GSM-7 makes it UCS-2)";
      if (s.segments > MAX_SEGMENTS) text += " — too long: at most " + MAX_SEGMENTS + " segments";
      out.textContent = text;
      out.classList.toggle("over", s.segments > MAX_SEGMENTS);
    }
    box.addEventListener("input", update);
    update();
  }

  function mediaNode(item) {
    var el = window.adminUI.el;
    if (item.kind === "image") {
      return el("a", { href: item.url, rel: "noopener noreferrer", target: "_blank" }, el("img", { src: item.url, alt: "image attachment", loading: "lazy" }));
    }
    if (item.kind === "file") {
      return el("a", { href: item.url, rel: "noopener noreferrer", target: "_blank", className: "file" }, item.url);
    }
    return el("span", { className: "file blocked", title: "not an http(s) link" }, item.url);
  }

  function messageNode(m) {
    var ui = window.adminUI;
    var el = ui.el;
    var bubble = el("div", { className: "bubble" });
    if (m.body) bubble.appendChild(el("p", { className: "body" }, m.body));
    if (m.media.length) {
      var media = el("div", { className: "media" });
      m.media.forEach(function (item) {
        media.appendChild(mediaNode(item));
      });
      bubble.appendChild(media);
    }
    var meta = el("div", { className: "meta" }, ui.timeTag(m.at, m.at_text));
    if (m.direction === "outbound") {
      meta.appendChild(el("span", { className: "status status-" + m.status, dataset: { status: m.status } }, m.status_text));
    }
    meta.appendChild(el("span", { className: "enc" }, m.encoding + " · " + m.segments + " segment" + (m.segments === 1 ? "" : "s")));
    if (m.direction === "outbound" && m.source !== "agent") meta.appendChild(el("span", { className: "source" }, m.source));
    if (m.direction === "outbound") {
      meta.appendChild(el("details", { className: "receipts", dataset: { url: m.receipts_url } }, el("summary", {}, "history"), el("ol", { className: "receipt-list" })));
    }
    return el("li", { className: "msg msg-" + m.direction, dataset: { id: String(m.id) } }, bubble, meta);
  }

  function applyStatus(list, s) {
    var item = list.querySelector('li.msg[data-id="' + s.id + '"] .status');
    if (!item || (item.dataset.status === s.status && item.textContent === s.status_text)) return;
    item.className = "status status-" + s.status;
    item.dataset.status = s.status;
    item.textContent = s.status_text;
  }

  function applyConversation(c) {
    var notice = document.getElementById("optout-notice");
    var box = document.getElementById("reply-body");
    var send = document.getElementById("reply-send");
    if (!notice || !box || !send) return;
    notice.textContent = c.notice || "";
    notice.classList.toggle("hidden", !c.opted_out);
    box.disabled = !!c.opted_out;
    send.disabled = !!c.opted_out;
    var status = document.getElementById("thread-status");
    if (status) status.textContent = c.status;
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }

  function noteNode(n) {
    var ui = window.adminUI;
    var el = ui.el;
    var bubble = el("div", { className: "bubble" }, el("p", { className: "note-label" }, "Private note · " + n.author), el("p", { className: "body" }, n.body));
    return el("li", { className: "note", dataset: { note: String(n.id) } }, bubble, el("div", { className: "meta" }, ui.timeTag(n.at, n.at_text)));
  }

  function poll(list) {
    var base = list.dataset.pollUrl;
    function refresh() {
      var url = base + (base.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(list.dataset.after) +
        "&note_after=" + encodeURIComponent(list.dataset.noteAfter || "0");
      return window.adminUI.getJSON(url).then(function (data) {
        var stick = nearBottom();
        data.messages.forEach(function (m) {
          if (!list.querySelector('li.msg[data-id="' + m.id + '"]')) list.appendChild(messageNode(m));
          if (m.id > Number(list.dataset.after)) list.dataset.after = String(m.id);
        });
        (data.notes || []).forEach(function (n) {
          if (!list.querySelector('li.note[data-note="' + n.id + '"]')) list.appendChild(noteNode(n));
          if (n.id > Number(list.dataset.noteAfter || 0)) list.dataset.noteAfter = String(n.id);
        });
        data.statuses.forEach(function (s) {
          applyStatus(list, s);
        });
        applyConversation(data.conversation);
        if (data.messages.length) {
          var empty = document.getElementById("messages-empty");
          if (empty) empty.classList.add("hidden");
          if (stick) window.scrollTo(0, document.body.scrollHeight);
        }
      });
    }
    if (window.desk && window.desk.live) {
      var run = window.desk.coalesce(refresh);
      var me = Number(list.dataset.conversation);
      window.desk.on(function (data) {
        if (Number(data.c) === me || data.k === "resync") run();
      });
    } else {
      window.adminUI.every(POLL_MS, refresh);
    }
  }

  function receipts() {
    document.addEventListener(
      "toggle",
      function (event) {
        var details = event.target;
        if (!details.classList || !details.classList.contains("receipts") || !details.open) return;
        var out = details.querySelector(".receipt-list");
        window.adminUI.getJSON(details.dataset.url).then(function (data) {
          var el = window.adminUI.el;
          out.replaceChildren();
          if (!data.receipts.length) out.appendChild(el("li", { className: "muted" }, "No reports from the provider yet (attempts: " + data.attempts + ")."));
          data.receipts.forEach(function (r) {
            var li = el("li", {}, window.adminUI.timeTag(r.at, r.at), " ", el("strong", {}, r.status));
            if (r.error) li.appendChild(document.createTextNode(" — " + r.error));
            if (!r.applied) li.appendChild(el("span", { className: "muted" }, " (not applied)"));
            out.appendChild(li);
          });
          if (data.last_error) out.appendChild(el("li", { className: "muted" }, "Last send error: " + data.last_error));
        });
      },
      true
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    counter();
    receipts();
    var list = document.getElementById("messages");
    if (list) {
      window.scrollTo(0, document.body.scrollHeight);
      if (list.dataset.live === "1") poll(list);
    }
  });
})();
