"""Claiming the next due row, and the hot path that sends it, in SQLAlchemy Core.

One transaction claims the row, reads what the send needs (with the contact's consent state)
and, when nothing stands in the way, marks the attempt as started; after the send, one more
records the provider id. Everything unusual (an attempt whose outcome is unknown, an opted-out
contact, an expired validity period, any error) goes to `Attempt`'s ORM path, which reads the
row again. So the common message costs two short transactions, not five.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.engine import Row

from app.conversations.models import Contact, Conversation, Message, Receipt
from app.dbutil import dialect, lock_key
from app.extensions import db
from app.telefonie.schema import OUTBOUND_RANK
from app.types import utcnow

COLUMNS = (
    Message.id,
    Message.sid,
    Message.outcome_unknown,
    Message.source,
    Message.date_created,
    Message.validity_period,
    Message.to_number,
    Message.from_number,
    Message.body,
    Message.media_urls,
    Contact.opted_out,
)


@dataclass(frozen=True)
class Claimed:
    row: Row
    ready: bool  # the attempt is marked started: send at once (else take the ORM path)
    attempt: int = 0  # the message's attempt number after the claim (the one a ready claim makes)

    @property
    def id(self) -> int:
        return self.row.id


def due(now: datetime) -> tuple:
    """A row is due: queued, not yet at the provider, its time come, and not leased."""
    return (
        Message.direction == "outbound",
        Message.status == "queued",
        Message.provider_id.is_(None),
        Message.next_attempt_at <= now,
        or_(Message.lease_until.is_(None), Message.lease_until < now),
    )


def due_query(now: datetime):
    query = (
        select(*COLUMNS)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(*due(now))
        .order_by(Message.next_attempt_at, Message.id)
        .limit(1)
    )
    if dialect() == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Message)
    return query


def claim_next(lease: timedelta, validity: float) -> Claimed | None:
    """Lease the next due row (fair: by next_attempt_at); None when nothing is due."""
    now = utcnow()
    row = db.session.execute(due_query(now)).first()
    if row is None:
        db.session.rollback()
        return None
    deadline = row.date_created + timedelta(seconds=row.validity_period or validity)
    ready = not row.outcome_unknown and (row.source == "consent" or not row.opted_out) and now < deadline
    values: dict = {"lease_until": now + lease}
    if ready:
        values.update(
            attempts=Message.attempts + 1,
            outcome_unknown=True,
            first_attempt_at=func.coalesce(Message.first_attempt_at, now),
        )
    # The whole condition again: on SQLite (no SKIP LOCKED) two threads may read the same row,
    # and by the time the second one writes, the first may have sent it and cleared its lease.
    # Writes are serialised, so only one update finds the row still due.
    won = db.session.execute(
        update(Message)
        .where(Message.id == row.id, *due(now))
        .values(**values)
        .returning(Message.id, Message.attempts)
    ).first()
    db.session.commit()
    return Claimed(row, ready, won.attempts) if won else None


def record_sent(message_id: int, answer: dict, latency_ms: int | None) -> bool:
    """Link the provider id (one UPDATE under its lock); False when early receipts wait for it,
    and the caller applies them through the ORM. The caller commits."""
    provider_id = str(answer["id"])
    lock_key(provider_id)
    values: dict = {
        "provider_id": provider_id,
        "outcome_unknown": False,
        "lease_until": None,
        "last_error": None,
        "send_latency_ms": latency_ms,
        "date_updated": utcnow(),
    }
    status = answer.get("status")
    if status in OUTBOUND_RANK and OUTBOUND_RANK[status] > OUTBOUND_RANK["queued"]:
        values["status"] = status
    if answer.get("price") not in (None, ""):
        values.update(price=str(answer["price"])[:20], price_unit=answer.get("price_unit"))
    db.session.execute(update(Message).where(Message.id == message_id).values(**values))
    early = db.session.scalar(
        select(exists().where(Receipt.provider_id == provider_id, Receipt.message_id.is_(None)))
    )
    return not early
