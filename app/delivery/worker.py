"""The delivery worker: sender threads that each claim one row, send it, and claim the next.

Sends are independent: a send that hangs until its read timeout holds only its own thread and
row, while the other threads go on claiming (no batch waits for its slowest member). Rows are
claimed in `next_attempt_at` order, so due retries and new rows take turns fairly. A claim is a
lease: a worker killed mid-send leaves a row whose lease runs out, and the next worker first
asks the provider whether the send went through (`outcome_unknown`) before sending again.

The main thread keeps the periodic jobs (campaigns, sweeps) and the wakeups. Every database call,
in every thread, sits inside error handling that logs and waits with backoff, so a database
outage of any length stalls the worker and never ends it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from flask import Flask
from sqlalchemy import func, select

from app.callbacks import forward_due
from app.conversations.models import Message
from app.delivery import claim, sweeps
from app.delivery.attempt import Attempt
from app.delivery.circuit import PROBE, Breaker
from app.delivery.wakeup import Wakeup
from app.extensions import db
from app.telefonie.client import Client
from app.types import utcnow

log = logging.getLogger("app.delivery")
CAMPAIGN_TICK = 1.0  # seconds between campaign dispatches
SWEEP_EVERY = 5.0  # seconds between orphan-receipt and expiry sweeps
MAX_DB_BACKOFF = 10.0
SQLITE_THREADS = 2
MIN_WAIT = 0.05  # the main loop never spins: a backlog it cannot hand out waits this long
T = TypeVar("T")


class Worker:
    def __init__(self, app: Flask, client: Client | None = None, threads: int | None = None):
        self.app = app
        self.client = client or Client.from_config(app.config)
        self.threads = threads or int(app.config.get("DELIVERY_THREADS", 8))
        if threads is None and str(app.config.get("DATABASE_URL", "")).startswith("sqlite"):
            self.threads = min(self.threads, SQLITE_THREADS)  # one writer at a time anyway
        self.lease = timedelta(seconds=app.config["DELIVERY_LEASE_SECONDS"])
        self.idle_wait = float(app.config.get("DELIVERY_IDLE_WAIT", 5.0))
        self.status_check_every = float(app.config.get("DELIVERY_STATUS_SWEEP_EVERY", 30.0))
        self.breaker = Breaker(app)
        self.attempt = Attempt(app, self.client, self.breaker)
        self.stop = threading.Event()
        self._work = threading.Condition()
        self._idle = 0  # senders waiting for work
        self._db_failures = 0
        self._db_lock = threading.Lock()

    # -- the main thread ------------------------------------------------------------------------

    def run_forever(self) -> None:
        wakeup = self.guarded("wakeup", lambda: Wakeup.for_engine(db.engine), None)
        while wakeup is None and not self.stop.is_set():
            wakeup = self.guarded("wakeup", lambda: Wakeup.for_engine(db.engine), None)
        senders = [
            threading.Thread(target=self._sender, name=f"deliver-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for thread in senders:
            thread.start()
        last = {"campaigns": 0.0, "sweep": 0.0, "status": 0.0}
        try:
            while not self.stop.is_set():
                self.periodic(last)
                with self._work:
                    idle = self._idle
                if idle == 0:  # every sender is busy and claims again by itself: no query, no wake
                    wakeup.wait(CAMPAIGN_TICK)
                    continue
                due_in = self.guarded("queue check", self.seconds_until_due, self.idle_wait)
                notified = wakeup.wait(min(max(due_in, MIN_WAIT), CAMPAIGN_TICK))
                if notified or due_in <= CAMPAIGN_TICK:
                    self.wake_senders()  # something was just queued, or is due by now
        finally:
            self.stop.set()
            self.wake_senders()
            for thread in senders:
                thread.join(timeout=30)
            if wakeup is not None:
                wakeup.close()

    def periodic(self, last: dict[str, float]) -> None:
        """The jobs that run every so often beside sending; each is guarded on its own."""
        now = time.monotonic()
        if now - last["campaigns"] >= CAMPAIGN_TICK:
            self.guarded("campaign dispatch", self.dispatch_campaigns, 0)
            self.guarded("callback forwarding", lambda: forward_due(20), 0)  # status_callback (app.callbacks)
            last["campaigns"] = time.monotonic()
        if now - last["sweep"] >= SWEEP_EVERY:
            self.guarded("receipt sweep", self.sweep_orphan_receipts, 0)
            self.guarded("expiry sweep", lambda: sweeps.expire_held(self.attempt), 0)
            last["sweep"] = time.monotonic()
        if now - last["status"] >= self.status_check_every:
            self.guarded("status sweep", lambda: sweeps.check_statuses(self.app, self.client), 0)
            last["status"] = time.monotonic()

    def guarded(self, what: str, job: Callable[[], T], fallback: T) -> T:
        """Run a database job in an app context; on any error log it, back off, and go on."""
        with self.app.app_context():
            try:
                result = job()
            except Exception:
                db.session.rollback()
                self._db_trouble(what)
                return fallback
        self._db_ok()
        return result

    def _db_trouble(self, what: str) -> None:
        with self._db_lock:
            self._db_failures += 1
            failures = self._db_failures
        delay = min(MAX_DB_BACKOFF, 0.1 * 2 ** min(failures, 10))
        if failures <= 3 or failures % 20 == 0:
            log.exception("%s failed (%d in a row); retrying in %.1f s", what, failures, delay)
        else:
            log.warning("%s failed (%d in a row); retrying in %.1f s", what, failures, delay)
        self.stop.wait(delay)

    def _db_ok(self) -> None:
        if self._db_failures:
            with self._db_lock:
                if self._db_failures:
                    log.info("database reachable again after %d failed calls", self._db_failures)
                self._db_failures = 0

    def wake_senders(self) -> None:
        with self._work:
            self._work.notify_all()

    def dispatch_campaigns(self) -> int:
        """Queue the campaign messages now due (app.campaigns)."""
        from app.campaigns import service as campaigns

        return campaigns.dispatch()

    def seconds_until_due(self) -> float:
        now = utcnow()
        due = db.session.scalar(
            select(func.min(func.coalesce(Message.lease_until, Message.next_attempt_at))).where(
                Message.direction == "outbound", Message.status == "queued", Message.provider_id.is_(None)
            )
        )
        db.session.rollback()
        if due is None:
            return self.idle_wait
        return max(0.0, min(self.idle_wait, (due - now).total_seconds(), self.breaker.seconds_until_retry()))

    def sweep_orphan_receipts(self) -> int:
        return sweeps.orphan_receipts()

    # -- the sender threads ---------------------------------------------------------------------

    def _sender(self) -> None:
        while not self.stop.is_set():
            handled = self.guarded("delivery", self.send_one, None)
            if handled is None:  # database trouble: already waited
                continue
            if not handled:
                with self._work:
                    self._idle += 1
                    try:
                        self._work.wait(self.idle_wait)
                    finally:
                        self._idle -= 1

    def send_one(self) -> bool:
        """Claim one due row (if the circuit lets us) and deliver it; False when there was none."""
        permit = self.breaker.permit()
        if permit is None:
            db.session.rollback()
            self.stop.wait(min(self.breaker.seconds_until_retry(), 0.5))
            return True
        claimed = claim.claim_next(self.lease, self.attempt.validity)
        if claimed is None:
            if permit == PROBE:
                self.breaker.release_probe()
            return False
        try:
            self.attempt.deliver_claimed(claimed, probe=permit == PROBE)
        except Exception:
            db.session.rollback()
            log.exception("delivery of message %s failed unexpectedly", claimed.id)
            raise
        finally:
            if permit == PROBE:  # a probe that proved nothing (expired, opted out): probe again now
                self.breaker.release_probe()
        return True

    def run_once(self) -> int:
        """Deliver every row due now, one by one, in this thread (tests and tools)."""
        handled = 0
        with self.app.app_context():
            while self.send_one():
                handled += 1
        return handled
