"""The worker's periodic sweeps: receipts that came early, rows whose validity ended while the
circuit held them, and messages the provider never sent a final status for.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from sqlalchemy import and_, or_, select

from app.conversations.models import Message, Receipt
from app.conversations.service import apply_pending_receipts, record_status
from app.dbutil import lock_key
from app.delivery.attempt import Attempt
from app.delivery.models import StatusCheck
from app.extensions import db
from app.telefonie.client import Client, NotFound, TelefonieError
from app.telefonie.schema import PayloadError, parse_status
from app.types import utcnow

log = logging.getLogger("app.delivery")
NOT_FINAL = ("queued", "sending", "sent")
BATCH = 100


def orphan_receipts() -> int:
    """Receipts that arrived before their message's provider id was known, applied now."""
    rows = db.session.scalars(
        select(Message.id)
        .join(Receipt, Receipt.provider_id == Message.provider_id)
        .where(Receipt.message_id.is_(None))
        .distinct()
        .limit(BATCH)
    ).all()
    for message_id in rows:
        message = db.session.get(Message, message_id)
        lock_key(message.provider_id)
        apply_pending_receipts(message)
        db.session.commit()
    return len(rows)


def expire_held(attempt: Attempt) -> int:
    """Fail the queued rows whose validity period has ended without a claim (an open circuit
    holds them). Rows whose last attempt's outcome is unknown wait for a claim: only the
    provider can say whether they went out."""
    now = utcnow()
    oldest_allowed = now - timedelta(seconds=attempt.validity)
    expired = 0
    rows = db.session.scalars(
        select(Message)
        .where(
            Message.direction == "outbound",
            Message.status == "queued",
            Message.provider_id.is_(None),
            Message.outcome_unknown.is_(False),
            or_(Message.lease_until.is_(None), Message.lease_until < now),
            or_(
                and_(Message.validity_period.is_(None), Message.date_created < oldest_allowed),
                and_(Message.validity_period.is_not(None), Message.date_created < now - timedelta(seconds=1)),
            ),
        )
        .order_by(Message.date_created)
        .limit(BATCH)
    ).all()
    for message in rows:
        if attempt.deadline(message) <= now:
            attempt.expire(message)
            expired += 1
    db.session.rollback()
    return expired


def check_statuses(app: Flask, client: Client) -> int:
    """Ask the provider (GET /messages/{id}) about messages with no final status after
    `DELIVERY_STATUS_CHECK_AFTER` seconds, and apply what it says like a status webhook."""
    after = timedelta(seconds=float(app.config.get("DELIVERY_STATUS_CHECK_AFTER", 900)))
    cutoff = utcnow() - after
    rows = db.session.execute(
        select(Message.id, Message.provider_id)
        .outerjoin(StatusCheck, StatusCheck.message_id == Message.id)
        .where(
            Message.direction == "outbound",
            Message.status.in_(NOT_FINAL),
            Message.provider_id.is_not(None),
            Message.date_updated < cutoff,
            or_(StatusCheck.checked_at.is_(None), StatusCheck.checked_at < cutoff),
        )
        .order_by(Message.date_updated)
        .limit(BATCH)
    ).all()
    db.session.rollback()
    for message_id, provider_id in rows:
        try:
            answer = client.get(provider_id)
        except NotFound:
            answer = None
        except TelefonieError as exc:
            log.warning("status check of %s failed: %s", provider_id, exc.describe())
            return len(rows)
        _record_check(message_id)
        if answer is not None:
            try:
                record_status(parse_status(answer))
            except PayloadError as exc:
                log.warning("status check of %s: unusable answer: %s", provider_id, exc)
        db.session.commit()
    return len(rows)


def _record_check(message_id: int) -> None:
    check = db.session.get(StatusCheck, message_id)
    if check is None:
        db.session.add(StatusCheck(message_id=message_id, checked_at=utcnow(), checks=1))
    else:
        check.checked_at = utcnow()
        check.checks += 1
