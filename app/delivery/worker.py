"""The delivery worker: claim queued rows, guard consent, send, record, retry, reconcile.

Jobs take ids and re-read their rows; every state change is committed (Redash tasks). A claim
is a lease: a worker killed mid-send leaves a row whose lease runs out, and the next worker
first asks the provider whether the send went through (`outcome_unknown`) before sending again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, or_, select, update

from app.callbacks import forward_due
from app.conversations.models import Message
from app.conversations.service import apply_pending_receipts
from app.dbutil import dialect, lock_key
from app.delivery import reconcile
from app.delivery.wakeup import Wakeup
from app.events import log_event
from app.extensions import db
from app.telefonie.client import Client, TelefonieError
from app.telefonie.schema import OUTBOUND_RANK
from app.types import utcnow

log = logging.getLogger("app.delivery")
OPTED_OUT = 21610
CAMPAIGN_TICK = 1.0  # seconds between campaign dispatches


class Worker:
    def __init__(self, app: Flask, client: Client | None = None, threads: int = 4):
        self.app = app
        self.client = client or Client.from_config(app.config)
        self.threads = threads
        self.lease = timedelta(seconds=app.config["DELIVERY_LEASE_SECONDS"])
        self.max_attempts = app.config["DELIVERY_MAX_ATTEMPTS"]
        self.backoff_base = app.config["DELIVERY_BACKOFF_BASE"]
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deliver")

    def run_forever(self) -> None:
        with self.app.app_context():
            wakeup = Wakeup.for_engine(db.engine)
        last_sweep = 0.0
        last_campaigns = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() - last_campaigns >= CAMPAIGN_TICK:
                    self.dispatch_campaigns()
                    last_campaigns = time.monotonic()
                handled = self.run_once()
                if time.monotonic() - last_sweep > 5:
                    self.sweep_orphan_receipts()
                    last_sweep = time.monotonic()
                if handled == 0:
                    wakeup.wait(min(self.seconds_until_due(), CAMPAIGN_TICK))
        finally:
            wakeup.close()
            self.pool.shutdown(wait=True)

    def dispatch_campaigns(self) -> int:
        """Queue the campaign messages now due (app.campaigns); errors are logged, never raised."""
        from app.campaigns import service as campaigns

        with self.app.app_context():
            try:
                forward_due(20)  # status_callback forwards (app.callbacks), posted in the background
                return campaigns.dispatch()
            except Exception:
                db.session.rollback()
                log.exception("campaign dispatch failed")
                return 0

    def run_once(self) -> int:
        """Claim a batch and deliver it; the number of messages handled."""
        try:
            ids = self.claim(self.threads)
        except Exception:
            log.exception("claim failed")
            time.sleep(1)
            return 0
        list(self.pool.map(self._deliver_in_context, ids))
        return len(ids)

    def claim(self, limit: int) -> list[int]:
        with self.app.app_context():
            now = utcnow()
            query = (
                select(Message.id)
                .where(
                    Message.direction == "outbound",
                    Message.status == "queued",
                    Message.provider_id.is_(None),
                    Message.next_attempt_at <= now,
                    or_(Message.lease_until.is_(None), Message.lease_until < now),
                )
                .order_by(Message.next_attempt_at, Message.id)
                .limit(limit)
            )
            if dialect() == "postgresql":
                query = query.with_for_update(skip_locked=True)
            candidates = list(db.session.scalars(query))
            if not candidates:
                db.session.rollback()
                return []
            # The lease condition again: on SQLite (no SKIP LOCKED) two workers may pick the same
            # candidates, but writes are serialised and only one update finds the row unleased.
            ids = list(
                db.session.scalars(
                    update(Message)
                    .where(
                        Message.id.in_(candidates),
                        or_(Message.lease_until.is_(None), Message.lease_until < now),
                    )
                    .values(lease_until=now + self.lease)
                    .returning(Message.id)
                )
            )
            db.session.commit()
            return ids

    def seconds_until_due(self) -> float:
        with self.app.app_context():
            now = utcnow()
            due = db.session.scalar(
                select(func.min(func.coalesce(Message.lease_until, Message.next_attempt_at))).where(
                    Message.direction == "outbound", Message.status == "queued", Message.provider_id.is_(None)
                )
            )
            db.session.rollback()
        idle = self.app.config.get("DELIVERY_IDLE_WAIT", 5.0)
        if due is None:
            return idle
        return max(0.0, min(idle, (due - now).total_seconds()))

    def _deliver_in_context(self, message_id: int) -> None:
        with self.app.app_context():
            try:
                self.deliver(message_id)
            except Exception:
                db.session.rollback()
                log.exception("delivery of message %s failed unexpectedly", message_id)

    def deliver(self, message_id: int) -> None:
        message = db.session.get(Message, message_id)
        if message is None or message.status != "queued" or message.provider_id is not None:
            db.session.rollback()
            return
        if message.source != "consent" and message.conversation.contact.opted_out:
            self._give_up(message, OPTED_OUT, "recipient opted out; not sent")
            return
        if message.outcome_unknown and self._reconciled(message):
            return
        if message.outcome_unknown and message.attempts >= self.max_attempts:
            self._give_up(message, None, message.last_error or "gave up after repeated attempts")
            return
        message.attempts += 1
        message.outcome_unknown = True
        message.first_attempt_at = message.first_attempt_at or utcnow()
        db.session.commit()
        started = time.perf_counter()
        try:
            answer = self.client.send(
                to=message.to_number,
                from_=message.from_number,
                body=message.body,
                media_url=message.media_urls or None,
                validity_period=message.validity_period,
                status_callback=self.app.config["PUBLIC_BASE_URL"] + "/webhooks/telefonie/status",
            )
        except TelefonieError as exc:
            self._failed_attempt(message, exc)
            return
        self.record_accepted(message, answer, int((time.perf_counter() - started) * 1000))

    def record_accepted(self, message: Message, answer: dict, latency_ms: int | None) -> None:
        provider_id = str(answer.get("id") or "")
        if not provider_id:
            self._failed_attempt(
                message, TelefonieError("provider answered without an id", retryable=True, ambiguous=True)
            )
            return
        lock_key(provider_id)
        message.provider_id = provider_id
        status = answer.get("status")
        if status in OUTBOUND_RANK and OUTBOUND_RANK[status] > OUTBOUND_RANK["queued"]:
            message.status = status
        if answer.get("price") not in (None, ""):
            message.price, message.price_unit = str(answer["price"]), answer.get("price_unit")
        message.outcome_unknown = False
        message.lease_until = None
        message.last_error = None
        message.send_latency_ms = latency_ms
        message.date_updated = utcnow()
        db.session.flush()
        apply_pending_receipts(message)
        db.session.commit()
        log.info("sent message %s as %s", message.sid, provider_id)
        log_event("send_attempt", message_id=message.id, attempt=message.attempts, outcome="sent")

    def _reconciled(self, message: Message) -> bool:
        """Ask the provider whether an earlier attempt went through; True when it did (or we must wait)."""
        try:
            found = reconcile.find_sent(self.client, message)
        except TelefonieError as exc:
            self._retry_later(message, exc.retry_after, f"reconcile failed: {exc.message}")
            return True
        if found is None:
            return False
        self.record_accepted(message, found, None)
        return True

    def _failed_attempt(self, message: Message, exc: TelefonieError) -> None:
        reason = f"HTTP {exc.status}: {exc.message}" if exc.status else exc.message
        message.outcome_unknown = exc.ambiguous
        message.last_error = reason[:500]
        log.warning("send of %s failed (attempt %s): %s", message.sid, message.attempts, exc.message)
        log_event(
            "send_attempt", message_id=message.id, attempt=message.attempts, outcome="error", error=reason
        )
        if exc.ambiguous or (exc.retryable and message.attempts < self.max_attempts):
            self._retry_later(message, exc.retry_after, reason)
            return
        code = (
            exc.code
            if isinstance(exc.code, int) or (isinstance(exc.code, str) and exc.code.isdigit())
            else None
        )
        self._give_up(message, int(code) if code is not None else None, reason)

    def _retry_later(self, message: Message, retry_after: float | None, reason: str) -> None:
        delay = min(60.0, self.backoff_base * 2 ** max(0, message.attempts - 1))
        delay = delay * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, retry_after)
        message.next_attempt_at = utcnow() + timedelta(seconds=delay)
        message.lease_until = None
        message.last_error = reason[:500]
        db.session.commit()

    def _give_up(self, message: Message, code: int | None, reason: str) -> None:
        message.status = "failed"
        message.error_code = code
        message.error_message = reason[:500]
        message.lease_until = None
        message.outcome_unknown = False
        message.date_updated = utcnow()
        db.session.commit()
        log_event(
            "send_attempt", message_id=message.id, attempt=message.attempts, outcome="failed", code=code
        )

    def sweep_orphan_receipts(self) -> int:
        """Receipts that arrived before their message's provider id was known, applied now."""
        from app.conversations.models import Receipt

        with self.app.app_context():
            try:
                rows = (
                    db.session.execute(
                        select(Message.id)
                        .join(Receipt, Receipt.provider_id == Message.provider_id)
                        .where(Receipt.message_id.is_(None))
                        .distinct()
                        .limit(100)
                    )
                    .scalars()
                    .all()
                )
                for message_id in rows:
                    message = db.session.get(Message, message_id)
                    lock_key(message.provider_id)
                    apply_pending_receipts(message)
                    db.session.commit()
                return len(rows)
            except Exception:
                db.session.rollback()
                log.exception("receipt sweep failed")
                return 0
