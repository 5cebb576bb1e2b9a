"""SMS encoding and segment counting (app/telefonie/segments.py) against a table of vectors."""

from __future__ import annotations

import random
import unicodedata

import pytest

from app.telefonie.segments import (
    GSM7_ALL,
    GSM7_BASIC,
    GSM7_BASIC_TABLE,
    GSM7_EXTENSION,
    MAX_SEGMENTS,
    SegmentInfo,
    analyze,
    count_segments,
    encoding_of,
)

GSM = "GSM-7"
UCS = "UCS-2"
EMOJI = "\U0001f600"  # 😀, two UTF-16 code units
GREEK = "ΔΦΓΛΩΠΨΣΘΞ"

# (id, body, encoding, segments, units)
VECTORS: list[tuple[str, str, str, int, int]] = [
    ("empty", "", GSM, 1, 0),
    ("hello", "Hello, world!", GSM, 1, 13),
    ("ascii-160", "a" * 160, GSM, 1, 160),
    ("ascii-161", "a" * 161, GSM, 2, 161),
    ("ascii-306", "b" * 306, GSM, 2, 306),
    ("ascii-307", "b" * 307, GSM, 3, 307),
    ("brace-80", "{" * 80, GSM, 1, 160),
    ("brace-81", "{" * 81, GSM, 2, 162),
    ("escape-at-153", "a" * 152 + "[" + "b" * 10, GSM, 2, 164),
    ("escape-fits-153", "a" * 151 + "]" + "b" * 10, GSM, 2, 163),
    ("escape-straddle-3-parts", "a" * 152 + "^" + "c" * 152, GSM, 3, 306),
    ("all-extension", "^{}\\[~]|€\f", GSM, 1, 20),
    ("euro", "Price: 5€", GSM, 1, 10),
    ("euro-80", "€" * 80, GSM, 1, 160),
    ("euro-81", "€" * 81, GSM, 2, 162),
    ("form-feed", "page\fbreak", GSM, 1, 11),
    ("lf-cr", "line\r\nline", GSM, 1, 10),
    ("backtick", "use `code`", UCS, 1, 10),
    ("backtick-160", "`" + "a" * 159, UCS, 3, 160),
    ("ucs-70", "á" * 70, UCS, 1, 70),
    ("ucs-71", "á" * 71, UCS, 2, 71),
    ("ucs-134", "á" * 134, UCS, 2, 134),
    ("ucs-135", "á" * 135, UCS, 3, 135),
    ("emoji-1", EMOJI, UCS, 1, 2),
    ("emoji-35", EMOJI * 35, UCS, 1, 70),
    ("emoji-36", EMOJI * 36, UCS, 2, 72),
    ("emoji-at-67", "x" * 66 + EMOJI + "y" * 10, UCS, 2, 78),
    ("emoji-fits-67", "x" * 65 + EMOJI + "y" * 10, UCS, 2, 77),
    ("greek", GREEK + " " + GREEK.lower(), UCS, 1, 21),
    ("greek-gsm-only", "Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ", GSM, 1, 19),
    ("greek-mixed-latin", "ΔΣ Ωmega £5 @home _x_ ¥ § ¿¡ ¤", GSM, 1, 30),
    ("all-basic", GSM7_BASIC_TABLE.replace("\x1b", ""), GSM, 1, 127),
    ("e-acute", "café", GSM, 1, 4),
    ("a-acute", "está", UCS, 1, 4),
    ("c-cedilla-small", "garçon", UCS, 1, 6),
    ("c-cedilla-capital", "ÇA", GSM, 1, 2),
    ("gsm-1530", "z" * 1530, GSM, MAX_SEGMENTS, 1530),
    ("gsm-1531", "z" * 1531, GSM, MAX_SEGMENTS + 1, 1531),
    ("ucs-670", "ж" * 670, UCS, MAX_SEGMENTS, 670),
    ("ucs-671", "ж" * 671, UCS, MAX_SEGMENTS + 1, 671),
    ("tab-not-gsm", "a\tb", UCS, 1, 3),
    ("nbsp-not-gsm", "a\u00a0b", UCS, 1, 3),
    ("escape-char-not-gsm", "a\x1bb", UCS, 1, 3),
    ("ohm-sign-not-omega", "\u2126", UCS, 1, 1),
    ("flag-two-astral", "\U0001f1f3\U0001f1f1", UCS, 1, 4),
]


@pytest.mark.parametrize(
    ("body", "encoding", "segments", "units"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS]
)
def test_vector(body: str, encoding: str, segments: int, units: int) -> None:
    info = analyze(body)
    assert info == SegmentInfo(encoding, segments, units, info.parts)
    assert encoding_of(body) == encoding
    assert count_segments(body) == segments
    assert len(info.parts) == segments
    assert "".join(info.parts) == body
    if segments == 1:
        assert info.parts == (body,)
    else:
        limit = 153 if encoding == GSM else 67
        assert all(0 < part_units(p, encoding) <= limit for p in info.parts)


def part_units(part: str, encoding: str) -> int:
    if encoding == GSM:
        return len(part) + sum(c in GSM7_EXTENSION for c in part)
    return len(part.encode("utf-16-le", "surrogatepass")) // 2


def test_escape_sequence_at_the_boundary_moves_whole() -> None:
    # 152 septets, then "[" would take septets 153 and 154: it opens the second part instead.
    info = analyze("a" * 152 + "[" + "b" * 10)
    assert info.parts == ("a" * 152, "[" + "b" * 10)
    # One septet earlier it fits exactly.
    info = analyze("a" * 151 + "]" + "b" * 10)
    assert info.parts == ("a" * 151 + "]", "b" * 10)


def test_escape_sequences_only_fill_parts_to_152() -> None:
    info = analyze("{" * 81)
    assert info.parts == ("{" * 76, "{" * 5)
    assert [part_units(p, GSM) for p in info.parts] == [152, 10]


def test_emoji_at_the_boundary_moves_whole() -> None:
    info = analyze("x" * 66 + EMOJI + "y" * 10)
    assert info.parts == ("x" * 66, EMOJI + "y" * 10)
    info = analyze("x" * 65 + EMOJI + "y" * 10)
    assert info.parts == ("x" * 65 + EMOJI, "y" * 10)
    info = analyze(EMOJI * 36)
    assert info.parts == (EMOJI * 33, EMOJI * 3)


def test_plain_parts_are_even_slices() -> None:
    assert analyze("a" * 161).parts == ("a" * 153, "a" * 8)
    assert analyze("á" * 135).parts == ("á" * 67, "á" * 67, "á")


def test_surrogate_pair_as_two_code_points_stays_whole() -> None:
    high, low = "\ud83d", "\ude00"  # 😀 as separate code points (only from odd input)
    body = "x" * 66 + high + low + "y" * 10
    info = analyze(body)
    assert info.parts == ("x" * 66, high + low + "y" * 10)
    assert count_segments(body) == 2


def test_lone_surrogate_counts_as_one_unit() -> None:
    info = analyze("a\ud83d")
    assert (info.encoding, info.units, info.num_segments) == (UCS, 2, 1)


def test_alphabet_is_the_standard_one() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert GSM7_BASIC_TABLE[0x00] == "@"
    assert GSM7_BASIC_TABLE[0x02] == "$"
    assert GSM7_BASIC_TABLE[0x24] == "¤"
    assert GSM7_BASIC_TABLE[0x40] == "¡"
    assert GSM7_BASIC_TABLE[0x60] == "¿"
    greek = GSM7_BASIC_TABLE[0x10] + GSM7_BASIC_TABLE[0x12:0x1B]
    assert all(unicodedata.name(c).startswith("GREEK CAPITAL LETTER") for c in greek)
    printable_ascii = {chr(i) for i in range(0x20, 0x7F)}
    assert printable_ascii - GSM7_ALL == {"`"}
    assert {chr(i) for i in range(0x20)} & GSM7_ALL == {"\n", "\r", "\f"}
    assert "\x7f" not in GSM7_ALL


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_each_extension_char_is_two_septets(char: str) -> None:
    assert analyze(char) == SegmentInfo(GSM, 1, 2, (char,))


def test_max_segments() -> None:
    assert MAX_SEGMENTS == 10


ALPHABET = (
    "abcxyz ABC 0129 .,!?@£$¥èéÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà\n\r"  # GSM basic
    "^{}\\[]~|€\f"  # GSM extension
    "`áçжא中\u00a0"  # BMP, not GSM
    "\U0001f600\U0001f44d\U0001f1f3\U00010348"  # astral
)


def random_bodies(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    gsm = [c for c in ALPHABET if c in GSM7_ALL]
    bodies = []
    for i in range(count):
        pool = gsm if i % 2 else ALPHABET  # half stay GSM-7 so escapes meet part boundaries
        bodies.append("".join(rng.choice(pool) for _ in range(rng.randint(0, 800))))
    return bodies


def test_random_bodies_split_cleanly() -> None:
    for body in random_bodies(seed=2303840, count=600):
        info = analyze(body)
        assert "".join(info.parts) == body
        assert info.num_segments == len(info.parts) == count_segments(body)
        assert info.encoding == encoding_of(body)
        assert info.units == sum(part_units(p, info.encoding) for p in info.parts)
        single, concat = (160, 153) if info.encoding == GSM else (70, 67)
        if info.num_segments == 1:
            assert info.units <= single
        else:
            assert info.units > single
            for i, part in enumerate(info.parts):
                assert 0 < part_units(part, info.encoding) <= concat
                first = int.from_bytes(part.encode("utf-16-le", "surrogatepass")[:2], "little")
                assert not 0xDC00 <= first <= 0xDFFF, "part starts with a lone low surrogate"
                if i + 1 < len(info.parts):  # greedy: the next character would not have fit
                    nxt = info.parts[i + 1][0]
                    assert part_units(part + nxt, info.encoding) > concat
