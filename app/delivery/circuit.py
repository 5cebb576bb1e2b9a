"""The provider circuit, shared by every worker process through one database row.

Closed: everyone sends. After `DELIVERY_CIRCUIT_THRESHOLD` provider-down failures in a row
(refused or lost connections, connect timeouts, 5xx), or at once on a 429, it opens: nobody
sends until `retry_at`. Then exactly one worker thread wins the probe (a conditional update:
the half-open state with a short lease) and sends one message. Success closes the circuit for
all; failure opens it again with a doubled cool-down (capped). So a provider outage of any
length costs one attempt per cool-down, not one per queued row, and rows are never failed for
it: they fail only when their validity period ends.

Every worker reads the row at most every `CACHE_SECONDS`, so a closed circuit costs nothing on
the hot path; a success resets the failure count with one conditional update that matches (and
locks) nothing while the circuit is healthy.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import or_, select, update

from app.dbutil import insert_ignore
from app.delivery.models import CLOSED, HALF_OPEN, OPEN, Circuit
from app.extensions import db
from app.types import utcnow

NAME = "telefonie"
CACHE_SECONDS = 0.25
SEND, PROBE = "send", "probe"


@dataclass(frozen=True)
class View:
    state: str
    failures: int
    retry_at: datetime | None
    read_at: float


class Breaker:
    """One per worker process; its methods run inside an app context and commit their own writes."""

    def __init__(self, app: Flask):
        self.threshold = int(app.config.get("DELIVERY_CIRCUIT_THRESHOLD", 5))
        self.base_cooldown = float(app.config.get("DELIVERY_CIRCUIT_COOLDOWN", 1.0))
        self.max_cooldown = float(app.config.get("DELIVERY_CIRCUIT_MAX_COOLDOWN", 30.0))
        self.probe_lease = float(app.config.get("DELIVERY_CIRCUIT_PROBE_LEASE", 30.0))
        self._view: View | None = None
        self._lock = threading.Lock()

    def ensure_row(self) -> None:
        db.session.execute(
            insert_ignore(Circuit.__table__, ["name"]).values(
                name=NAME, state=CLOSED, failures=0, cooldown=self.base_cooldown, updated_at=utcnow()
            )
        )
        db.session.commit()

    def view(self, fresh: bool = False) -> View:
        with self._lock:
            view = self._view
        if view is not None and not fresh and time.monotonic() - view.read_at < CACHE_SECONDS:
            return view
        # No rollback here: the caller may be inside a transaction (recording a send).
        row = db.session.execute(
            select(Circuit.state, Circuit.failures, Circuit.retry_at).where(Circuit.name == NAME)
        ).first()
        if row is None:  # first use of a fresh database: no row means closed
            view = View(CLOSED, 0, None, time.monotonic())
        else:
            view = View(row.state, row.failures, row.retry_at, time.monotonic())
        with self._lock:
            self._view = view
        return view

    def permit(self) -> str | None:
        """SEND (closed), PROBE (this caller holds the probe: send one message), or None (hold)."""
        view = self.view()
        if view.state == CLOSED:
            return SEND
        now = utcnow()
        if view.state == OPEN and view.retry_at is not None and view.retry_at > now:
            return None
        won = db.session.execute(
            update(Circuit)
            .where(
                Circuit.name == NAME,
                or_(
                    (Circuit.state == OPEN) & or_(Circuit.retry_at.is_(None), Circuit.retry_at <= now),
                    (Circuit.state == HALF_OPEN) & (Circuit.probe_until < now),
                ),
            )
            .values(state=HALF_OPEN, probe_until=now + timedelta(seconds=self.probe_lease), updated_at=now)
        ).rowcount
        db.session.commit()
        self.forget()
        return PROBE if won else None

    def release_probe(self) -> None:
        """The probe found nothing to send: let the next message probe at once."""
        db.session.execute(
            update(Circuit)
            .where(Circuit.name == NAME, Circuit.state == HALF_OPEN)
            .values(state=OPEN, retry_at=utcnow(), probe_until=None)
        )
        db.session.commit()
        self.forget()

    def success_statement(self):
        """Close the circuit (and reset the count); matches no row, so locks none, while healthy."""
        return (
            update(Circuit)
            .where(Circuit.name == NAME, or_(Circuit.failures > 0, Circuit.state != CLOSED))
            .values(
                state=CLOSED,
                failures=0,
                cooldown=self.base_cooldown,
                retry_at=None,
                probe_until=None,
                opened_at=None,
                updated_at=utcnow(),
            )
        )

    def record_success(self) -> None:
        """Called in the caller's transaction (the one recording the send); commits with it."""
        view = self.view()
        if view.state != CLOSED or view.failures > 0:
            db.session.execute(self.success_statement())
            self.forget()

    def record_failure(self, error: str, retry_after: float | None, rate_limited: bool, probe: bool) -> None:
        """A provider-down failure: count it, and open the circuit at the threshold, on a 429, or
        when it was the probe that failed (then with a doubled cool-down)."""
        now = utcnow()
        db.session.rollback()
        self.ensure_row()
        row = db.session.scalars(select(Circuit).where(Circuit.name == NAME).with_for_update()).one()
        row.failures += 1
        row.last_error = error[:500]
        row.updated_at = now
        reopen = probe or row.state == HALF_OPEN
        if reopen or rate_limited or (row.state == CLOSED and row.failures >= self.threshold):
            cooldown = min(self.max_cooldown, row.cooldown * 2) if reopen else self.base_cooldown
            row.cooldown = cooldown
            wait = max(cooldown, retry_after or 0.0)
            if row.state == CLOSED:
                row.opened_at = now
            row.state = OPEN
            row.retry_at = now + timedelta(seconds=wait)
            row.probe_until = None
        db.session.commit()
        self.forget()

    def forget(self) -> None:
        with self._lock:
            self._view = None

    def seconds_until_retry(self) -> float:
        """How long sending is held: infinite while closed, a cache period while a probe is out."""
        view = self.view()
        if view.state == CLOSED:
            return float("inf")
        if view.state != OPEN or view.retry_at is None:
            return CACHE_SECONDS
        return max(0.01, (view.retry_at - utcnow()).total_seconds())
