"""Quiet hours: 08:00 to 21:00 local (20:00 for Florida and Oklahoma), most restrictive zone."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from app.campaigns.quiet_hours import allowed, next_allowed, zones_for

NY = "+12125550100"  # America/New_York
LA = "+13105550100"  # America/Los_Angeles
FL = "+13055550100"  # Miami, Florida (America/New_York)
GA = "+14045550100"  # Atlanta, Georgia (America/New_York)
OK = "+14055550100"  # Oklahoma City (America/Chicago)
ID = "+12085550100"  # Idaho: America/Boise and America/Los_Angeles
TOLL_FREE = "+18005550100"  # every NANP zone: falls back to New York and Los Angeles
LONDON = "+442071234567"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "phone, at, expected",
    [
        # New York, summer (UTC-4)
        (NY, utc(2026, 7, 1, 11, 59), False),  # 07:59
        (NY, utc(2026, 7, 1, 12, 0), True),  # 08:00
        (NY, utc(2026, 7, 2, 0, 59), True),  # 20:59
        (NY, utc(2026, 7, 2, 1, 0), False),  # 21:00
        (NY, utc(2026, 7, 1, 7, 0), False),  # 03:00
        # Los Angeles, summer (UTC-7)
        (LA, utc(2026, 7, 1, 14, 59), False),  # 07:59
        (LA, utc(2026, 7, 1, 15, 0), True),  # 08:00
        (LA, utc(2026, 7, 2, 3, 59), True),  # 20:59
        (LA, utc(2026, 7, 2, 4, 0), False),  # 21:00
        # Florida ends at 20:00, Georgia (same zone) at 21:00
        (FL, utc(2026, 7, 2, 0, 30), False),  # 20:30
        (GA, utc(2026, 7, 2, 0, 30), True),  # 20:30
        (FL, utc(2026, 7, 1, 23, 59), True),  # 19:59
        (FL, utc(2026, 7, 1, 12, 0), True),  # 08:00
        # Oklahoma (Central, UTC-5 in summer) ends at 20:00
        (OK, utc(2026, 7, 2, 0, 59), True),  # 19:59
        (OK, utc(2026, 7, 2, 1, 30), False),  # 20:30
        (OK, utc(2026, 7, 1, 13, 0), True),  # 08:00
        # Idaho 208: Mountain and Pacific; allowed only when allowed in both
        (ID, utc(2026, 7, 1, 14, 30), False),  # 08:30 Boise, 07:30 Los Angeles
        (ID, utc(2026, 7, 1, 15, 0), True),  # 09:00 Boise, 08:00 Los Angeles
        (ID, utc(2026, 7, 2, 2, 59), True),  # 20:59 Boise, 19:59 Los Angeles
        (ID, utc(2026, 7, 2, 3, 30), False),  # 21:30 Boise, 20:30 Los Angeles
        # DST starts 2026-03-08 in the US: 12:30 UTC is 07:30 EST the day before, 08:30 EDT that day
        (NY, utc(2026, 3, 7, 12, 30), False),
        (NY, utc(2026, 3, 8, 12, 30), True),
        # DST ends 2026-11-01: 12:30 UTC is 08:30 EDT the day before, 07:30 EST that day
        (NY, utc(2026, 10, 31, 12, 30), True),
        (NY, utc(2026, 11, 1, 12, 30), False),
        # Winter: Los Angeles is UTC-8
        (LA, utc(2026, 1, 15, 15, 30), False),  # 07:30
        (LA, utc(2026, 1, 15, 16, 0), True),  # 08:00
        # Toll-free: New York and Los Angeles both
        (TOLL_FREE, utc(2026, 7, 1, 14, 0), False),  # 10:00 New York, 07:00 Los Angeles
        (TOLL_FREE, utc(2026, 7, 1, 16, 0), True),
        # Outside North America: the number's own zone (London, BST)
        (LONDON, utc(2026, 7, 1, 7, 30), True),  # 08:30
        (LONDON, utc(2026, 7, 1, 6, 30), False),  # 07:30
    ],
)
def test_allowed(phone: str, at: datetime, expected: bool) -> None:
    assert allowed(phone, at) is expected


@pytest.mark.parametrize(
    "phone, at, expected",
    [
        (NY, utc(2026, 7, 1, 16, 0), utc(2026, 7, 1, 16, 0)),  # allowed now: now
        (NY, utc(2026, 7, 1, 7, 0), utc(2026, 7, 1, 12, 0)),  # 03:00 → 08:00 the same day
        (NY, utc(2026, 7, 2, 1, 30), utc(2026, 7, 2, 12, 0)),  # 21:30 → 08:00 the next day
        (FL, utc(2026, 7, 2, 0, 30), utc(2026, 7, 2, 12, 0)),  # 20:30 in Florida → next morning
        (OK, utc(2026, 7, 2, 1, 30), utc(2026, 7, 2, 13, 0)),
        (ID, utc(2026, 7, 1, 14, 30), utc(2026, 7, 1, 15, 0)),  # waits for Los Angeles
        (ID, utc(2026, 7, 2, 3, 30), utc(2026, 7, 2, 15, 0)),  # Boise closed: next Pacific morning
        # Across the DST changes: 22:00 the evening before → 08:00 local in the new offset
        (NY, utc(2026, 3, 8, 3, 0), utc(2026, 3, 8, 12, 0)),  # 08:00 EDT
        (NY, utc(2026, 11, 1, 2, 0), utc(2026, 11, 1, 13, 0)),  # 08:00 EST
        (TOLL_FREE, utc(2026, 7, 1, 14, 0), utc(2026, 7, 1, 15, 0)),
    ],
)
def test_next_allowed(phone: str, at: datetime, expected: datetime) -> None:
    found = next_allowed(phone, at)
    assert found == expected
    assert allowed(phone, found)


def test_custom_window_keeps_the_florida_limit() -> None:
    at = utc(2026, 7, 2, 0, 30)  # 20:30 Eastern
    assert allowed(GA, at, time(9, 0), time(22, 0))
    assert not allowed(FL, at, time(9, 0), time(22, 0))
    assert not allowed(GA, utc(2026, 7, 1, 12, 30), time(9, 0), time(22, 0))  # 08:30


def test_zones() -> None:
    assert zones_for(NY) == ("America/New_York",)
    assert set(zones_for(ID)) == {"America/Boise", "America/Los_Angeles"}
    assert zones_for(TOLL_FREE) == ("America/New_York", "America/Los_Angeles")


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        allowed(NY, datetime(2026, 7, 1, 12, 0))


HONOLULU = "+18085550100"  # Pacific/Honolulu: no daylight saving time


@pytest.mark.parametrize(
    "instant, new_york, honolulu",
    [
        ("2026-03-07 12:30", False, False),  # 07:30 EST / 02:30 HST: both asleep
        ("2026-03-09 12:30", True, False),  # the same clock time after DST: 08:30 EDT / 02:30 HST
        ("2026-03-09 18:00", True, True),  # 14:00 EDT / 08:00 HST
        ("2026-07-02 01:30", False, True),  # 21:30 EDT / 15:30 HST
        ("2026-11-01 00:30", True, True),  # 20:30 EDT (last evening of summer time) / 14:30 HST
        ("2026-11-03 01:30", True, True),  # 20:30 EST / 15:30 HST
        ("2026-11-03 02:30", False, True),  # 21:30 EST / 16:30 HST
        ("2026-12-01 07:30", False, False),  # 02:30 EST / 21:30 HST (the evening before)
    ],
)
def test_honolulu_and_new_york_at_the_same_instant(instant: str, new_york: bool, honolulu: bool) -> None:
    from freezegun import freeze_time

    from app.types import utcnow

    with freeze_time(instant):
        now = utcnow()
        assert (allowed(NY, now), allowed(HONOLULU, now)) == (new_york, honolulu)
