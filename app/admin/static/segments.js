/*
 * SMS encoding and segment counting for the live counter under a reply box.
 * The same algorithm as app/telefonie/segments.py (3GPP TS 23.038 / 23.040); the two are held
 * together by tests/telefonie/test_segments_js.py. Plain browser script, no build step.
 *
 *   window.smsSegments(text) -> {encoding, segments, units, perSegment, remaining}
 *
 * encoding:   "GSM-7" or "UCS-2"
 * segments:   number of parts the phone receives (empty text is 1)
 * units:      septets (GSM-7) or UTF-16 code units (UCS-2) in total
 * perSegment: units a part holds (160/153 GSM-7, 70/67 UCS-2)
 * remaining:  units left in the last part
 *
 * window.smsSegments.split(text) returns the parts themselves.
 */
(function () {
  "use strict";

  // TS 23.038 default alphabet, indexed by septet value; 0x1B (escape) is not a character.
  var BASIC_TABLE =
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5" +
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u001b\u00c6\u00e6\u00df\u00c9" +
    " !\"#\u00a4%&'()*+,-./" +
    "0123456789:;<=>?" +
    "\u00a1ABCDEFGHIJKLMNO" +
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7" +
    "\u00bfabcdefghijklmno" +
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0";
  // TS 23.038 default extension table: escape + char, two septets each.
  var EXTENSION_CHARS = "\f^{}\\[~]|\u20ac";

  var BASIC = new Set(BASIC_TABLE.split(""));
  BASIC.delete("\u001b");
  var EXTENSION = new Set(EXTENSION_CHARS.split(""));

  var GSM7 = "GSM-7";
  var UCS2 = "UCS-2";
  var LIMITS = {};
  LIMITS[GSM7] = { single: 160, concat: 153 };
  LIMITS[UCS2] = { single: 70, concat: 67 };

  function encodingOf(text) {
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (!BASIC.has(c) && !EXTENSION.has(c)) return UCS2;
    }
    return GSM7;
  }

  // Characters (code points; a lone surrogate counts as one) with their width in units.
  function widths(text, encoding) {
    var chars = [];
    var w = [];
    for (var ch of text) {
      chars.push(ch);
      if (encoding === GSM7) w.push(EXTENSION.has(ch) ? 2 : 1);
      else w.push(ch.length);
    }
    return { chars: chars, widths: w };
  }

  function analyze(text) {
    text = text == null ? "" : String(text);
    var encoding = encodingOf(text);
    var limits = LIMITS[encoding];
    var cw = widths(text, encoding);
    var units = 0;
    for (var i = 0; i < cw.widths.length; i++) units += cw.widths[i];
    if (units <= limits.single) {
      return { encoding: encoding, units: units, parts: [text], perSegment: limits.single, last: units };
    }
    // Greedy: fill each part to the limit, a character that does not fit moves whole to the next.
    var parts = [];
    var current = "";
    var used = 0;
    for (var j = 0; j < cw.chars.length; j++) {
      if (used + cw.widths[j] > limits.concat) {
        parts.push(current);
        current = "";
        used = 0;
      }
      current += cw.chars[j];
      used += cw.widths[j];
    }
    parts.push(current);
    return { encoding: encoding, units: units, parts: parts, perSegment: limits.concat, last: used };
  }

  function smsSegments(text) {
    var a = analyze(text);
    return {
      encoding: a.encoding,
      segments: a.parts.length,
      units: a.units,
      perSegment: a.perSegment,
      remaining: a.perSegment - a.last,
    };
  }

  smsSegments.split = function (text) {
    return analyze(text).parts;
  };

  window.smsSegments = smsSegments;
})();
