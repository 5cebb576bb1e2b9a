// Tag picker: an <input data-tags list="..."> holds comma-separated tags; its <datalist> of the tags
// in use is rewritten as the agent types, so every suggestion is "what is typed so far, <tag>" and
// picking one completes the tag after the last comma (a plain datalist only matches the whole value).
(function () {
  "use strict";
  function setup(input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var known = Array.prototype.map.call(list.options, function (o) { return o.value; });
    function refresh() {
      var value = input.value;
      var cut = value.lastIndexOf(",");
      var head = cut >= 0 ? value.slice(0, cut + 1) + " " : "";
      var typed = value.slice(cut + 1).trim().toLowerCase();
      var used = value.split(",").map(function (t) { return t.trim().toLowerCase(); });
      list.textContent = "";
      known.forEach(function (tag) {
        var folded = tag.toLowerCase();
        if (used.indexOf(folded) >= 0 && folded !== typed) return;
        if (typed && folded.indexOf(typed) !== 0) return;
        var option = document.createElement("option");
        option.value = head + tag;
        list.appendChild(option);
      });
    }
    input.addEventListener("input", refresh);
    input.addEventListener("focus", refresh);
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-tags]"), setup);
  });
})();
