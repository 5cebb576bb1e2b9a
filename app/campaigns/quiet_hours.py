"""When a campaign message may reach a recipient: 08:00 to 21:00 in the recipient's local time.

The zone comes from the number's area (`phonenumbers.timezone.time_zones_for_number`). A number
whose area spans several zones is allowed only when the time is inside the window in every one
of them (the most restrictive). Florida and Oklahoma numbers (NANP area codes below) end at 20:00.

Unknown zone (phonenumbers answers `Etc/Unknown`, e.g. an unassigned area), or zones so far
apart that no hour is inside the window in all of them (toll-free numbers list every NANP zone):
we do not guess one zone; the number is treated as being anywhere in the continental US, i.e.
allowed only when inside the window in both America/New_York and America/Los_Angeles (11:00 to
21:00 Eastern). That is the conservative reading of "the most restrictive zone".

Pure functions of (phone, aware datetime); the window bounds can be overridden (admin settings).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

DEFAULT_START = time(8, 0)
DEFAULT_END = time(21, 0)
EARLY_END = time(20, 0)

FLORIDA = frozenset(
    "239 305 321 324 352 386 407 448 561 645 656 689 727 728 754 772 786 813 850 863 904 941 954".split()
)
OKLAHOMA = frozenset("405 539 572 580 918".split())
EARLY_END_AREAS = FLORIDA | OKLAHOMA
UNKNOWN_FALLBACK = ("America/New_York", "America/Los_Angeles")


@lru_cache(maxsize=4096)
def zones_for(phone: str) -> tuple[str, ...]:
    try:
        parsed = phonenumbers.parse(phone, None)
        names = pn_timezone.time_zones_for_number(parsed)
    except phonenumbers.NumberParseException:
        names = ()
    known = tuple(n for n in names if n and n != pn_timezone.UNKNOWN_TIMEZONE)
    if not known or _spread_hours(known) >= 13:
        return UNKNOWN_FALLBACK
    return known


def _spread_hours(names: tuple[str, ...]) -> float:
    """How far apart the zones' UTC offsets are (winter and summer)."""
    offsets = [
        ZoneInfo(name).utcoffset(datetime(2026, month, 1)).total_seconds() / 3600
        for name in names
        for month in (1, 7)
    ]
    return max(offsets) - min(offsets)


def window(phone: str, start: time = DEFAULT_START, end: time = DEFAULT_END) -> tuple[time, time]:
    """The local window [start, end) for this number (Florida and Oklahoma end at 20:00 at the latest)."""
    if phone.startswith("+1") and phone[2:5] in EARLY_END_AREAS:
        end = min(end, EARLY_END)
    return start, end


def _check(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("an aware datetime is required")


def allowed(phone: str, at: datetime, start: time = DEFAULT_START, end: time = DEFAULT_END) -> bool:
    _check(at)
    lo, hi = window(phone, start, end)
    for name in zones_for(phone):
        local = at.astimezone(ZoneInfo(name)).time().replace(tzinfo=None)
        if not (lo <= local < hi):
            return False
    return True


def next_allowed(phone: str, at: datetime, start: time = DEFAULT_START, end: time = DEFAULT_END) -> datetime:
    """`at` itself when allowed, else the earliest later moment that is (in at's time zone).

    The allowed set is an intersection of daily windows, so it opens either at `at` or at some
    zone's local window start; try those in order over the next days.
    """
    _check(at)
    if allowed(phone, at, start, end):
        return at
    lo, _hi = window(phone, start, end)
    candidates = []
    for name in zones_for(phone):
        zone = ZoneInfo(name)
        today = at.astimezone(zone).date()
        for days in range(-1, 4):
            day = today + timedelta(days=days)
            opening = datetime.combine(day, lo, tzinfo=zone)
            if opening > at:
                candidates.append(opening)
    for opening in sorted(candidates):
        if allowed(phone, opening, start, end):
            return opening.astimezone(at.tzinfo)
    raise ValueError(f"no allowed time found for {phone}")  # only with an empty window
