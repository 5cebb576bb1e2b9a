"""One message's delivery: consent guard, reconcile, send, record, retry or give up.

Jobs take ids and re-read their rows; every state change is committed (Redash tasks). Rows
never fail for a provider outage: a retryable error schedules the next attempt with capped,
fully jittered backoff, and a row is `failed` only on a permanent error, on opt-out, or when
its validity period (the API's `validity_period`, else `DELIVERY_VALIDITY_SECONDS`) has ended,
with an error code and the whole reason.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app.conversations.models import Contact, Conversation, Message
from app.conversations.service import apply_pending_receipts
from app.dbutil import dialect, lock_key
from app.delivery import claim, reconcile
from app.delivery.circuit import Breaker
from app.delivery.claim import Claimed
from app.delivery.models import RetryCount
from app.events import log_event
from app.extensions import db
from app.telefonie.client import Client, TelefonieError
from app.telefonie.schema import OUTBOUND_RANK
from app.types import utcnow

log = logging.getLogger("app.delivery")
OPTED_OUT = 21610
VALIDITY_EXPIRED = 30036  # Twilio's "Validity Period Expired"
RECONCILE_CONFLICT = "reconcile_conflict"
LOAD = (
    select(Message, Contact.opted_out)
    .join(Conversation, Conversation.id == Message.conversation_id)
    .join(Contact, Contact.id == Conversation.contact_id)
)


class Attempt:
    """The send path of one worker process; stateless per message, shared by its threads."""

    def __init__(self, app: Flask, client: Client, breaker: Breaker):
        self.app = app
        self.client = client
        self.breaker = breaker
        self.backoff_base = float(app.config["DELIVERY_BACKOFF_BASE"])
        self.backoff_max = float(app.config.get("DELIVERY_BACKOFF_MAX", 300.0))
        self.validity = float(app.config.get("DELIVERY_VALIDITY_SECONDS", 4 * 3600))
        self.callback = app.config["PUBLIC_BASE_URL"] + "/webhooks/telefonie/status"

    def deadline(self, message: Message) -> datetime:
        seconds = message.validity_period or self.validity
        return message.date_created + timedelta(seconds=seconds)

    def deliver(self, message_id: int, probe: bool = False) -> None:
        row = db.session.execute(LOAD.where(Message.id == message_id)).first()
        if row is None or row.Message.status != "queued" or row.Message.provider_id is not None:
            db.session.rollback()
            return
        message, opted_out = row.Message, row.opted_out
        if message.source != "consent" and opted_out:
            self.give_up(message, OPTED_OUT, "recipient opted out; not sent")
            return
        if message.outcome_unknown and self._reconciled(message, probe):
            return
        if utcnow() >= self.deadline(message):
            self.expire(message)
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
                status_callback=self.callback,
            )
        except TelefonieError as exc:
            self.failed_attempt(message, exc, probe)
            return
        self.record_accepted(message, answer, int((time.perf_counter() - started) * 1000))

    def deliver_claimed(self, claimed: Claimed, probe: bool = False) -> None:
        """The hot path: the claim already marked the attempt; send, then link in one UPDATE."""
        if not claimed.ready:
            self.deliver(claimed.id, probe)
            return
        row = claimed.row
        started = time.perf_counter()
        try:
            answer = self.client.send(
                to=row.to_number,
                from_=row.from_number,
                body=row.body,
                media_url=row.media_urls or None,
                validity_period=row.validity_period,
                status_callback=self.callback,
            )
        except TelefonieError as exc:
            self.failed_attempt(db.session.get(Message, row.id), exc, probe)
            return
        latency_ms = int((time.perf_counter() - started) * 1000)
        if not answer.get("id"):
            self.record_accepted(db.session.get(Message, row.id), answer, latency_ms)
            return
        try:
            if not claim.record_sent(row.id, answer, latency_ms):  # receipts came first: apply them
                apply_pending_receipts(db.session.get(Message, row.id))
            self.breaker.record_success()
            db.session.commit()
            log.debug("sent message %s as %s", row.sid, answer["id"])
            log_event("send_attempt", message_id=row.id, attempt=claimed.attempt, outcome="sent")
        except IntegrityError:  # the provider id is taken: the ORM path reconciles at once
            db.session.rollback()
            self.record_accepted(db.session.get(Message, row.id), answer, latency_ms)

    def record_accepted(self, message: Message, answer: dict, latency_ms: int | None) -> None:
        provider_id = str(answer.get("id") or "")
        if not provider_id:
            error = TelefonieError("provider answered without an id", retryable=True, ambiguous=True)
            self.failed_attempt(message, error, False)
            return
        message_id = message.id
        try:
            self._link(message, answer, provider_id, latency_ms)
        except IntegrityError:
            # Another of our messages claimed this provider record while our answer was on its
            # way (it reconciled onto it). Ours is then the other's send: reconcile now, no lease.
            db.session.rollback()
            message = db.session.get(Message, message_id)
            count_retry(RECONCILE_CONFLICT, f"provider message {provider_id} already linked")
            message.outcome_unknown = True
            self.retry_later(
                message, 0.0, f"{RECONCILE_CONFLICT}: provider message {provider_id} already linked"
            )
            return
        log.debug("sent message %s as %s", message.sid, provider_id)
        log_event("send_attempt", message_id=message.id, attempt=message.attempts, outcome="sent")

    def _link(self, message: Message, answer: dict, provider_id: str, latency_ms: int | None) -> None:
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
        self.breaker.record_success()
        db.session.commit()

    def _reconciled(self, message: Message, probe: bool) -> bool:
        """Ask the provider whether an earlier attempt went through; True when it did (or we must wait)."""
        try:
            candidates = reconcile.candidates(self.client, message)
        except TelefonieError as exc:
            self.failed_attempt(message, exc, probe, during="reconcile")
            return True
        found = reconcile.claim(candidates)
        if found is None:
            return False
        self.record_accepted(message, found, None)
        return True

    def failed_attempt(
        self, message: Message, exc: TelefonieError, probe: bool, during: str = "send"
    ) -> None:
        reason = exc.describe() if during == "send" else f"{during}: {exc.describe()}"
        message_id = message.id
        db.session.rollback()  # drop reconcile's locks before taking the circuit's row
        if exc.provider_down:
            self.breaker.record_failure(reason, exc.retry_after, exc.kind == "rate_limited", probe)
        if exc.retryable or exc.ambiguous:
            count_retry(exc.kind, reason)
        message = db.session.get(Message, message_id)
        if during == "send":
            message.outcome_unknown = exc.ambiguous
        log.warning("%s of %s failed (attempt %s): %s", during, message.sid, message.attempts, reason)
        log_event(
            "send_attempt", message_id=message_id, attempt=message.attempts, outcome="error", error=reason
        )
        # A failed read-back never fails the message: the earlier attempt may have gone out.
        if exc.ambiguous or exc.retryable or during != "send":
            self.retry_later(message, exc.retry_after, reason, ambiguous=exc.ambiguous)
            return
        code = (
            exc.code
            if isinstance(exc.code, int) or (isinstance(exc.code, str) and exc.code.isdigit())
            else None
        )
        self.give_up(message, int(code) if code is not None else None, reason)

    def retry_later(
        self, message: Message, retry_after: float | None, reason: str, ambiguous: bool = False
    ) -> None:
        """Capped exponential backoff with full jitter (a retry storm spreads out); never past
        the validity deadline, where the next claim gives the message up."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** max(0, message.attempts - 1))
        delay = random.uniform(0, ceiling)
        if ambiguous:  # give a slow provider time to record the send before we look for it
            delay = max(delay, self.backoff_base)
        if retry_after is not None:
            delay = max(delay, retry_after)
        now = utcnow()
        message.next_attempt_at = min(now + timedelta(seconds=delay), max(now, self.deadline(message)))
        message.lease_until = None
        message.last_error = reason[:500]
        db.session.commit()

    def expire(self, message: Message) -> None:
        seconds = int(message.validity_period or self.validity)
        last = f"; last error: {message.last_error}" if message.last_error else ""
        reason = (
            f"validity period of {seconds} s ended before the provider accepted the message"
            f" ({message.attempts} attempts){last}"
        )
        self.give_up(message, VALIDITY_EXPIRED, reason)

    def give_up(self, message: Message, code: int | None, reason: str) -> None:
        message.status = "failed"
        message.error_code = code
        message.error_message = _fit(reason)
        message.last_error = _fit(reason)
        message.lease_until = None
        message.outcome_unknown = False
        message.date_updated = utcnow()
        db.session.commit()
        log.warning("gave up on message %s: %s", message.sid, reason)
        log_event(
            "send_attempt", message_id=message.id, attempt=message.attempts, outcome="failed", code=code
        )


def count_retry(cause: str, error: str) -> None:
    """One more retry for this cause, in its own short transaction (an upsert: no lost counts)."""
    module = postgresql if dialect() == "postgresql" else sqlite
    table = RetryCount.__table__
    now = utcnow()
    statement = module.insert(table).values(cause=cause[:40], count=1, last_at=now, last_error=_fit(error))
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["cause"],
            set_={"count": table.c.count + 1, "last_at": now, "last_error": _fit(error)},
        )
    )
    db.session.commit()


def _fit(text: str, limit: int = 500) -> str:
    """Whole when it fits; otherwise cut at a word with a visible ellipsis (the column's size)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"
