"""SMS encoding and segment counting (3GPP TS 23.038 alphabet, TS 23.040 concatenation).

A body is GSM-7 when every character is in the GSM 03.38 default alphabet or its extension
table; otherwise it goes out as UCS-2.

- GSM-7 counts septets: one per basic character, two per extension character (escape + char).
  A single message holds 160 septets; each part of a concatenated message holds 153 (the
  6-octet user data header takes the rest). A part never splits an escape sequence.
- UCS-2 counts UTF-16 code units: a single message holds 70, a concatenated part 67. A part
  never splits a surrogate pair (emoji and other astral characters are two units).

The empty body is GSM-7 and one segment (a media-only MMS still counts as one).
`app/admin/static/segments.js` is the same algorithm for the live counter; the two are held
together by tests/telefonie/test_segments_js.py.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

MAX_SEGMENTS = 10

GSM7_SINGLE = 160
GSM7_CONCAT = 153
UCS2_SINGLE = 70
UCS2_CONCAT = 67

# TS 23.038 section 6.2.1, the default alphabet, indexed by septet value (0x00-0x7F).
# 0x1B is the escape to the extension table, not a character: it is left out of the set.
_ESC = "\x1b"
GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10 (Greek capitals, U+0394 etc.)
    " !\"#¤%&'()*+,-./"  # 0x20 (0x24 is the currency sign ¤, not $)
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40 (0x40 is ¡, not @)
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)
# TS 23.038 section 6.2.1.1, the default extension table: septet after the escape -> character.
GSM7_EXTENSION_TABLE = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

GSM7_BASIC: frozenset[str] = frozenset(GSM7_BASIC_TABLE) - {_ESC}
GSM7_EXTENSION: frozenset[str] = frozenset(GSM7_EXTENSION_TABLE.values())
GSM7_ALL: frozenset[str] = GSM7_BASIC | GSM7_EXTENSION

_HIGH_SURROGATES = frozenset(map(chr, range(0xD800, 0xDC00)))
_LOW_SURROGATES = frozenset(map(chr, range(0xDC00, 0xE000)))


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    num_segments: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2) in total
    parts: tuple[str, ...]  # the body split into the parts a phone would receive


def encoding_of(body: str) -> str:
    """GSM-7 when every character is in the default alphabet or its extension table, else UCS-2."""
    return GSM7 if GSM7_ALL.issuperset(body) else UCS2


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _measure(body: str) -> tuple[str, int, tuple[str, ...]]:
    """(encoding, units, the extension characters in a GSM-7 body), in C-speed passes over the body."""
    chars = set(body)
    if chars <= GSM7_BASIC:
        return GSM7, len(body), ()
    if chars <= GSM7_ALL:
        extension = tuple(chars & GSM7_EXTENSION)
        return GSM7, len(body) + sum(map(body.count, extension)), extension
    if max(chars) <= "\uffff":
        return UCS2, len(body), ()
    return UCS2, _utf16_units(body), ()


def _split(body: str, limit: int, encoding: str, extension: tuple[str, ...]) -> tuple[str, ...]:
    """Greedy split into parts of at most `limit` units, never cutting a two-unit character.

    Each part starts as the next `limit` characters (every character is at least one unit) and
    is cut back until it fits: that is the longest prefix that fits. A character is at most two
    units, so cutting ceil(excess / 2) characters never cuts too much.
    """
    parts = []
    start, n = 0, len(body)
    while start < n:
        end = min(start + limit, n)
        if encoding == GSM7:
            while (excess := end - start + sum(body.count(c, start, end) for c in extension) - limit) > 0:
                end -= (excess + 1) // 2
        else:
            while (excess := _utf16_units(body[start:end]) - limit) > 0:
                end -= (excess + 1) // 2
            # A surrogate pair held as two separate code points (only from odd input) stays whole.
            if end < n and end - start > 1 and body[end - 1] in _HIGH_SURROGATES:
                if body[end] in _LOW_SURROGATES:
                    end -= 1
        parts.append(body[start:end])
        start = end
    return tuple(parts)


def _limits(encoding: str) -> tuple[int, int]:
    return (GSM7_SINGLE, GSM7_CONCAT) if encoding == GSM7 else (UCS2_SINGLE, UCS2_CONCAT)


def _uneven(body: str, encoding: str, units: int) -> bool:
    """Whether some character is two units (or could be half of a pair), so parts are not even slices."""
    if units != len(body):
        return True
    return encoding == UCS2 and not _HIGH_SURROGATES.isdisjoint(body)


def analyze(body: str) -> SegmentInfo:
    """Encoding, segment count, units and the parts a phone would receive."""
    return _analyze(body, *_measure(body))


def _analyze(body: str, encoding: str, units: int, extension: tuple[str, ...]) -> SegmentInfo:
    single, concat = _limits(encoding)
    if units <= single:
        return SegmentInfo(encoding, 1, units, (body,))
    if _uneven(body, encoding, units):
        parts = _split(body, concat, encoding, extension)
    else:
        parts = tuple(body[i : i + concat] for i in range(0, len(body), concat))
    return SegmentInfo(encoding, len(parts), units, parts)


def count_segments(body: str) -> int:
    """Number of segments (the empty body is one); callers refuse more than MAX_SEGMENTS."""
    encoding, units, extension = _measure(body)
    single, concat = _limits(encoding)
    if units <= single:
        return 1
    if _uneven(body, encoding, units):
        return _analyze(body, encoding, units, extension).num_segments
    return -(-units // concat)  # every character is one unit: parts are even slices
