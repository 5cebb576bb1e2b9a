"""Audience parsing details: the NANP fast path agrees with the full check; sender area prefixes."""

from __future__ import annotations

import random

import pytest

from app.campaigns.audience import AudienceError, from_csv, normalize
from app.campaigns.senders import area_prefix
from app.telefonie.numbers import InvalidNumber, normalize_e164


def outcome(fn, value):
    try:
        return fn(value)
    except InvalidNumber:
        return None


def test_fast_path_agrees_with_phonenumbers() -> None:
    rng = random.Random(7)
    areas = ["212", "416", "876", "787", "268", "441", "800", "555", "199", "911"]
    numbers = [f"+1{rng.choice(areas)}{rng.randint(0, 9_999_999):07d}" for _ in range(3000)]
    numbers += ["+1212555010", "+1212555010x", "+1٢١٢5550100", " +12125550100 ", "+442071234567", 12125550100]
    for number in numbers:
        assert outcome(normalize, number) == outcome(normalize_e164, number), number


@pytest.mark.parametrize(
    "number, prefix",
    [
        ("+12125550199", "+1212"),
        ("+442071234567", "+4420"),
        ("+18005550100", "+1800"),
        ("+447700900123", None),
    ],
)
def test_area_prefix(number: str, prefix: str | None) -> None:
    assert area_prefix(number) == prefix


def test_csv_semicolons_and_quoted_newlines() -> None:
    rows = from_csv(b'phone;name;note\n+12125550100;Ann;"two\nlines"\n+12125550101;Bo;x\n')
    assert [(r.row, r.phone, r.name, r.fields) for r in rows] == [
        (2, "+12125550100", "Ann", {"note": "two\nlines"}),
        (4, "+12125550101", "Bo", {"note": "x"}),
    ]
    with pytest.raises(AudienceError, match="empty"):
        from_csv(b"phone\n\n  \n")
