"""The sign-in throttle: attempts per (email, client address), counted in the database.

The attempt is counted *before* the password is checked, in one atomic statement, and committed
at once: forty parallel tries against any number of processes get exactly `LIMIT` password checks
per window, and the rest a 429. A successful sign-in clears the count.
"""

from __future__ import annotations

import hashlib
import random
import time

from sqlalchemy import delete

from app.accounts.counters import increment_in_window
from app.accounts.models import LoginAttempt
from app.extensions import db

LIMIT = 5  # password checks per window; the sixth attempt is refused
WINDOW = 15 * 60


def _key(email: str, address: str) -> str:
    raw = f"{(email or '').strip().lower()[:254]}\x00{address or ''}"
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def attempt(email: str, address: str) -> int:
    """Count one attempt; 0 if it may go on to the password check, else seconds to wait."""
    now = int(time.time())
    attempts, started = increment_in_window(
        LoginAttempt, {"key": _key(email, address)}, "window_start", "attempts", now, WINDOW
    )
    if random.random() < 0.01:  # noqa: S311  (housekeeping, not security): forget old windows
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.window_start <= now - WINDOW))
    db.session.commit()
    if attempts <= LIMIT:
        return 0
    return max(1, started + WINDOW - now)


def clear(email: str, address: str) -> None:
    """A successful sign-in forgets the earlier failures (committed with the sign-in)."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.key == _key(email, address)))
