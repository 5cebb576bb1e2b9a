"""The campaign tests' numbers are valid at every hour of the day (CI runs at any hour).

The US stems once had a digit too few: phonenumbers found no zone for those numbers, the quiet
hours then used the conservative fallback (11:00-21:00 Eastern, 16:00-02:00 UTC), and from
16:00 UTC the helper handed out New York numbers a campaign sets aside as invalid: six campaign
tests failed every evening and passed every morning.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from app.campaigns.quiet_hours import UNKNOWN_FALLBACK, allowed, zones_for
from app.telefonie.numbers import normalize_e164
from tests.campaigns.helpers import STEMS, numbers_inside_the_window


@pytest.mark.parametrize("stem", STEMS)
def test_every_stem_makes_valid_numbers_of_a_known_zone(stem):
    for number in (f"{stem}00", f"{stem}99"):
        assert normalize_e164(number, "phone") == number
        assert zones_for(number) != UNKNOWN_FALLBACK, number


@pytest.mark.parametrize("day", ["2026-01-15", "2026-07-15", "2026-11-29"])
def test_the_helper_hands_out_valid_numbers_inside_the_window_at_every_hour(day):
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    for step in range(0, 24 * 60, 20):
        at = start + timedelta(minutes=step)
        with freeze_time(at):
            phones = numbers_inside_the_window(60)
        assert len(phones) == 60 == len(set(phones))
        for phone in phones:
            assert normalize_e164(phone, "phone") == phone, (at, phone)
        assert all(allowed(phones[0], at + timedelta(minutes=m)) for m in range(11)), at
