/*
 * Campaign pages (no inline scripts: the Content-Security-Policy forbids them).
 * - New campaign: the live segment counter (segments.js) and the preview of the first recipients'
 *   messages, fetched from the server (the body is a sandboxed Jinja template rendered there) with
 *   the first 64 KiB of the chosen CSV file; the row count comes from the whole file, read here.
 * - One campaign: its progress and counts polled every 2 s from campaigns/<id>.json.
 * Text is always set with textContent, never innerHTML.
 */
(function () {
  "use strict";
  var POLL_MS = 2000;
  var MAX_SEGMENTS = 10;
  var PREVIEW_BYTES = 64 * 1024;
  var FINAL = { completed: true, cancelled: true };

  function text(node, value) {
    if (node) node.textContent = value;
  }

  function cell(row, value) {
    var td = document.createElement("td");
    td.textContent = value;
    row.appendChild(td);
    return td;
  }

  function counter(box) {
    var out = document.getElementById("segment-counter");
    if (!box || !out || !window.smsSegments) return;
    var s = window.smsSegments(box.value);
    var used = s.perSegment - s.remaining;
    var line = s.encoding + " · " + used + "/" + s.perSegment + " · " + s.segments + " segment" + (s.segments === 1 ? "" : "s");
    if (/\{\{|\{%/.test(box.value)) line += " before personalisation";
    if (s.segments > MAX_SEGMENTS) line += " — too long: at most " + MAX_SEGMENTS + " segments";
    out.textContent = line;
    out.classList.toggle("over", s.segments > MAX_SEGMENTS);
  }

  function newCampaignPage(form) {
    var body = document.getElementById("campaign-body");
    var file = document.getElementById("campaign-recipients");
    var summary = document.getElementById("preview-summary");
    var rows = document.getElementById("preview-rows");
    var warnings = document.getElementById("preview-warnings");
    var totalRows = null;
    var timer = null;
    var seq = 0;

    function show(data) {
      rows.replaceChildren();
      warnings.replaceChildren();
      if (data.error) {
        summary.textContent = data.error;
        summary.classList.add("field-error");
        return;
      }
      summary.classList.remove("field-error");
      var chosen = file.files && file.files[0];
      summary.textContent = chosen
        ? "About " + data.recipients + " recipient" + (data.recipients === 1 ? "" : "s") + " · estimated cost " +
          data.estimated_cost + " USD at " + data.price_per_segment + " a segment · the body alone is " +
          data.encoding + ", " + data.segments + " segment" + (data.segments === 1 ? "" : "s")
        : "Choose a CSV file to see the first recipients' messages.";
      data.warnings.forEach(function (w) {
        var li = document.createElement("li");
        li.className = "warning";
        li.textContent = w;
        warnings.appendChild(li);
      });
      data.rows.forEach(function (r) {
        var tr = document.createElement("tr");
        cell(tr, r.row);
        cell(tr, r.phone);
        cell(tr, r.text).className = "preview-text";
        cell(tr, r.encoding).className = r.encoding === "UCS-2" ? "enc-ucs2" : "";
        cell(tr, r.segments);
        cell(tr, r.cost);
        rows.appendChild(tr);
      });
    }

    function fetchPreview() {
      var data = new FormData();
      data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
      data.append("body", body.value);
      var chosen = file.files && file.files[0];
      if (chosen) {
        data.append("recipients", chosen.slice(0, PREVIEW_BYTES), chosen.name);
        if (totalRows !== null) data.append("total_rows", String(totalRows));
      }
      var mine = ++seq;
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" }
      })
        .then(function (r) { return r.json(); })
        .then(function (d) { if (mine === seq) show(d); })
        .catch(function () { if (mine === seq) summary.textContent = "The preview is not available right now."; });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(fetchPreview, 350);
    }

    body.addEventListener("input", function () { counter(body); later(); });
    file.addEventListener("change", function () {
      totalRows = null;
      var chosen = file.files && file.files[0];
      if (!chosen) return later();
      chosen.text().then(function (content) {
        var lines = content.split("\n").filter(function (l) { return l.trim() !== ""; }).length;
        totalRows = Math.max(0, lines - 1);
        later();
      }, later);
    });
    counter(body);
    if (body.value) later();
  }

  function campaignPage(live) {
    var url = live.getAttribute("data-url");
    var bar = document.getElementById("campaign-progress");
    var status = document.getElementById("campaign-status");

    function buttons(state) {
      var allowed = {
        pause: state === "running" || state === "scheduled",
        resume: state === "paused",
        cancel: !FINAL[state]
      };
      document.querySelectorAll("button[data-action]").forEach(function (b) {
        b.disabled = !allowed[b.getAttribute("data-action")];
      });
    }

    function errors(list) {
      var body = document.getElementById("campaign-errors");
      if (!body) return;
      body.replaceChildren();
      if (!list.length) {
        var tr = document.createElement("tr");
        tr.className = "none";
        cell(tr, "No errors.").colSpan = 3;
        body.appendChild(tr);
        return;
      }
      list.forEach(function (e) {
        var tr = document.createElement("tr");
        cell(tr, e.code === null ? "—" : e.code);
        cell(tr, e.message);
        cell(tr, e.count);
        body.appendChild(tr);
      });
    }

    function show(d) {
      bar.max = d.progress.total || 1;
      bar.value = d.progress.done;
      bar.textContent = d.progress.percent + "%";
      text(document.getElementById("campaign-progress-text"),
        d.progress.done + " of " + d.progress.total + " done (" + d.progress.percent + "%)");
      Object.keys(d.counts).forEach(function (k) {
        text(live.querySelector('[data-bucket="' + k + '"]'), d.counts[k]);
      });
      status.textContent = d.status;
      status.className = "badge campaign-status status-" + d.status;
      buttons(d.status);
      errors(d.errors);
      return d.status;
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(show)
        .then(function (state) { setTimeout(poll, FINAL[state] ? POLL_MS * 5 : POLL_MS); },
              function () { setTimeout(poll, POLL_MS * 5); });
    }

    buttons(status.textContent.trim());
    setTimeout(poll, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("campaign-form");
    if (form) newCampaignPage(form);
    var live = document.getElementById("campaign-live");
    if (live) campaignPage(live);
  });
})();
