"""The API rate limit per key: a fixed-window counter in the database, shared by every process.

`API_RATE_LIMIT` is `N/second`, `N/minute`, `N/hour` or `N/day` (`off` disables it). Each request
is one atomic upsert (see counters.py) committed at once, so no lock is held while the view runs.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

from sqlalchemy import delete

from app.accounts.counters import increment
from app.accounts.models import ApiRateWindow
from app.extensions import db

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT_RE = re.compile(
    r"^\s*(\d{1,9})\s*(?:/|per)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE | re.ASCII
)


@lru_cache(maxsize=16)
def parse(value: str | None) -> tuple[int, int] | None:
    """'600/minute' -> (600, 60); 'off' or '0/…' -> None. Raises ValueError on anything else."""
    if value is None or str(value).strip().lower() in ("", "off", "none", "0"):
        return None
    match = LIMIT_RE.match(str(value))
    if not match:
        raise ValueError("API_RATE_LIMIT must look like 600/minute (second, minute, hour or day) or off")
    limit, period = int(match.group(1)), PERIODS[match.group(2).lower()]
    return (limit, period) if limit > 0 else None


def hit(api_key_id: int, rule: tuple[int, int]) -> tuple[int, int]:
    """Count one request; returns (hits in this window, seconds until the window ends).
    The count is committed at once."""
    limit, period = rule
    now = time.time()
    start = int(now // period * period)
    hits = increment(ApiRateWindow, {"api_key_id": api_key_id, "window_start": start}, "hits")
    if hits == 1:  # the first request of a window clears this key's old windows
        old = delete(ApiRateWindow).where(
            ApiRateWindow.api_key_id == api_key_id, ApiRateWindow.window_start < start
        )
        db.session.execute(old)
    return hits, max(1, int(start + period - now + 0.999))
