"""When a rule's schedule applies: a weekly window in the schedule's own time zone.

A schedule is the validated dict `{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM",
"timezone": "America/New_York", "when": "inside" | "outside"}`.

- Times are local wall-clock times in `timezone`; the instant is converted with zoneinfo, so DST
  changes need no special care (09:00 is 09:00 local on both sides of a change).
- The window is `start <= local time < end`.
- `end` before `start` means the window crosses midnight; `days` then name the local day on which
  the window STARTS: 22:00-06:00 on `fri` covers Friday 22:00 to Saturday 06:00.
- `start == end` (refused by validation) reads as the whole day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hhmm(value: str) -> int:
    """Minutes after midnight of an "HH:MM" string."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(schedule: dict, at: datetime) -> bool:
    """Whether the aware instant `at` falls inside the schedule's weekly window."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("in_window needs an aware datetime")
    local = at.astimezone(ZoneInfo(schedule["timezone"]))
    days = {DAYS.index(day) for day in schedule.get("days") or DAYS}
    start, end = parse_hhmm(schedule["start"]), parse_hhmm(schedule["end"])
    now = local.hour * 60 + local.minute
    today = local.weekday()
    if start < end:
        return today in days and start <= now < end
    if start == end:
        return today in days
    yesterday = (local - timedelta(days=1)).weekday()
    return (today in days and now >= start) or (yesterday in days and now < end)


def applies(schedule: dict | None, at: datetime) -> bool:
    """No schedule: always. Otherwise inside (or outside, with `when: outside`) the window."""
    if schedule is None:
        return True
    inside = in_window(schedule, at)
    return inside if schedule.get("when", "inside") == "inside" else not inside
