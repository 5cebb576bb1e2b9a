"""Schedules: weekly windows in the schedule's time zone, across midnight and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from app.rules.schedule import applies, in_window

NY = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_5 = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "17:00",
    "timezone": "America/New_York",
    "when": "inside",
}
FRIDAY_NIGHT = {"days": ["fri"], "start": "22:00", "end": "06:00", "timezone": "America/New_York"}
EVERY_DAY_9_TO_10 = {
    **WEEKDAYS_9_TO_5,
    "days": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    "end": "10:00",
}
ONE_TO_TWO = {**EVERY_DAY_9_TO_10, "start": "01:00", "end": "02:00"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ny(text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY, fold=fold)


@pytest.mark.parametrize(
    ("schedule", "at", "inside"),
    [
        # plain weekday window (2026-03-04 is a Wednesday)
        (WEEKDAYS_9_TO_5, ny("2026-03-04 09:00"), True),
        (WEEKDAYS_9_TO_5, ny("2026-03-04 08:59"), False),
        (WEEKDAYS_9_TO_5, ny("2026-03-04 16:59:59"), True),
        (WEEKDAYS_9_TO_5, ny("2026-03-04 17:00"), False),
        (WEEKDAYS_9_TO_5, ny("2026-03-07 12:00"), False),  # Saturday
        (WEEKDAYS_9_TO_5, utc("2026-03-04 14:00"), True),  # 09:00 EST
        (WEEKDAYS_9_TO_5, utc("2026-03-04 13:59"), False),  # 08:59 EST
        (
            WEEKDAYS_9_TO_5,
            datetime(2026, 3, 4, 15, 0, tzinfo=timezone(timedelta(hours=1))),
            True,
        ),  # 09:00 EST
        # the instant is converted: Thursday 01:00 UTC is Wednesday 20:00 in New York
        (WEEKDAYS_9_TO_5, utc("2026-03-05 01:00"), False),
        # overnight window: days name the day the window STARTS (2026-03-06 is a Friday)
        (FRIDAY_NIGHT, ny("2026-03-06 21:59"), False),
        (FRIDAY_NIGHT, ny("2026-03-06 22:00"), True),
        (FRIDAY_NIGHT, ny("2026-03-06 23:59"), True),
        (FRIDAY_NIGHT, ny("2026-03-07 00:00"), True),  # Saturday
        (FRIDAY_NIGHT, ny("2026-03-07 03:00"), True),  # Saturday 03:00 is inside
        (FRIDAY_NIGHT, ny("2026-03-07 05:59"), True),
        (FRIDAY_NIGHT, ny("2026-03-07 06:00"), False),
        (FRIDAY_NIGHT, ny("2026-03-07 23:00"), False),  # Saturday night is not a Friday window
        (FRIDAY_NIGHT, ny("2026-03-06 03:00"), False),  # Friday early morning belongs to Thursday's window
        (FRIDAY_NIGHT, ny("2026-03-05 23:00"), False),  # Thursday night
        # spring forward, 2026-03-08 (Sunday): 02:00 EST becomes 03:00 EDT
        (EVERY_DAY_9_TO_10, utc("2026-03-07 14:30"), True),  # Saturday 09:30 EST
        (EVERY_DAY_9_TO_10, utc("2026-03-08 14:30"), False),  # Sunday 10:30 EDT: same UTC time, now outside
        (EVERY_DAY_9_TO_10, utc("2026-03-08 13:30"), True),  # Sunday 09:30 EDT
        (EVERY_DAY_9_TO_10, utc("2026-03-07 13:30"), False),  # Saturday 08:30 EST
        (ONE_TO_TWO, utc("2026-03-08 06:30"), True),  # 01:30 EST, just before the gap
        (ONE_TO_TWO, utc("2026-03-08 07:00"), False),  # 03:00 EDT: 02:00-03:00 never happened
        # fall back, 2026-11-01 (Sunday): 02:00 EDT becomes 01:00 EST, so 01:xx happens twice
        (ONE_TO_TWO, utc("2026-11-01 05:30"), True),  # 01:30 EDT
        (ONE_TO_TWO, utc("2026-11-01 06:30"), True),  # 01:30 EST, the second time round
        (ONE_TO_TWO, utc("2026-11-01 07:00"), False),  # 02:00 EST
        (ONE_TO_TWO, utc("2026-11-01 04:59"), False),  # 00:59 EDT
        (EVERY_DAY_9_TO_10, utc("2026-10-31 13:30"), True),  # Saturday 09:30 EDT
        (EVERY_DAY_9_TO_10, utc("2026-11-01 13:30"), False),  # Sunday 08:30 EST
        (EVERY_DAY_9_TO_10, utc("2026-11-01 14:30"), True),  # Sunday 09:30 EST
        # overnight window across the DST changes
        ({**FRIDAY_NIGHT, "days": ["sat"]}, utc("2026-03-08 08:30"), True),  # Sunday 04:30 EDT
        ({**FRIDAY_NIGHT, "days": ["sat"]}, utc("2026-03-08 10:30"), False),  # Sunday 06:30 EDT
        ({**FRIDAY_NIGHT, "days": ["sat"]}, utc("2026-11-01 10:30"), True),  # Sunday 05:30 EST
        ({**FRIDAY_NIGHT, "days": ["sat"]}, utc("2026-11-01 11:00"), False),  # Sunday 06:00 EST
        # other zones; days default to every day
        ({"start": "09:00", "end": "17:00", "timezone": "Asia/Kolkata"}, utc("2026-03-04 03:30"), True),
        ({"start": "09:00", "end": "17:00", "timezone": "Asia/Kolkata"}, utc("2026-03-04 03:29"), False),
        ({"start": "23:00", "end": "01:00", "timezone": "Pacific/Auckland"}, utc("2026-01-01 11:30"), True),
        # start == end (refused by validation) reads as the whole day
        (
            {"days": ["wed"], "start": "08:00", "end": "08:00", "timezone": "UTC"},
            utc("2026-03-04 03:00"),
            True,
        ),
        (
            {"days": ["wed"], "start": "08:00", "end": "08:00", "timezone": "UTC"},
            utc("2026-03-05 03:00"),
            False,
        ),
    ],
)
def test_in_window(schedule: dict, at: datetime, inside: bool) -> None:
    assert in_window(schedule, at) is inside


@pytest.mark.parametrize(
    ("when", "at", "expected"),
    [
        ("inside", ny("2026-03-04 10:00"), True),
        ("inside", ny("2026-03-04 18:00"), False),
        ("outside", ny("2026-03-04 10:00"), False),
        ("outside", ny("2026-03-04 18:00"), True),
        ("outside", ny("2026-03-07 10:00"), True),  # weekend
    ],
)
def test_applies(when: str, at: datetime, expected: bool) -> None:
    assert applies({**WEEKDAYS_9_TO_5, "when": when}, at) is expected


def test_when_defaults_to_inside() -> None:
    schedule = {key: value for key, value in WEEKDAYS_9_TO_5.items() if key != "when"}
    assert applies(schedule, ny("2026-03-04 10:00")) is True
    assert applies(schedule, ny("2026-03-04 18:00")) is False


def test_no_schedule_always_applies() -> None:
    assert applies(None, utc("2026-03-08 07:00")) is True


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        in_window(WEEKDAYS_9_TO_5, datetime(2026, 3, 4, 10, 0))


@pytest.mark.parametrize(
    ("frozen", "inside"),
    [("2026-03-08 13:59:00", True), ("2026-03-08 14:00:00", False), ("2026-11-01 14:00:00", True)],
)
def test_with_a_frozen_clock(frozen: str, inside: bool) -> None:
    with freeze_time(frozen):  # UTC
        assert in_window(EVERY_DAY_9_TO_10, datetime.now(UTC)) is inside
