"""Delivery health (/admin/delivery): the provider circuit, the outbound queue's depth and age,
retries by cause, and recent failures by code. Read-only; a few small aggregate queries."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import func, or_, select

from app.admin import bp
from app.conversations.models import Message
from app.delivery.circuit import NAME
from app.delivery.models import CLOSED, Circuit, RetryCount
from app.extensions import db
from app.types import utcnow

NOT_FINAL = ("queued", "sending", "sent")


def circuit_state() -> dict:
    row = db.session.get(Circuit, NAME)
    if row is None:
        return {"state": CLOSED, "failures": 0}
    return {
        "state": row.state,
        "failures": row.failures,
        "opened_at": row.opened_at,
        "retry_at": row.retry_at,
        "last_error": row.last_error,
        "updated_at": row.updated_at,
    }


def queue_state(now: datetime) -> dict:
    """Depth and age of the unsent outbound rows, split the way an operator asks about them."""
    unsent = (Message.direction == "outbound", Message.status == "queued", Message.provider_id.is_(None))
    due = Message.next_attempt_at <= now
    leased = Message.lease_until > now
    free = or_(Message.lease_until.is_(None), Message.lease_until <= now)
    row = db.session.execute(
        select(
            func.count(),
            func.count().filter(due, free),
            func.count().filter(leased),
            func.count().filter(Message.attempts > 0),
            func.count().filter(Message.outcome_unknown.is_(True)),
            func.min(Message.date_created),
            func.min(Message.next_attempt_at).filter(due),
        ).where(*unsent)
    ).one()
    depth, due_now, in_flight, retrying, unknown, oldest, oldest_due = row
    awaiting = db.session.scalar(
        select(func.count()).where(
            Message.direction == "outbound", Message.status.in_(NOT_FINAL), Message.provider_id.is_not(None)
        )
    )
    return {
        "depth": depth,
        "due": due_now,
        "in_flight": in_flight,
        "retrying": retrying,
        "unknown": unknown,
        "oldest_age": _age(now, oldest),
        "due_lag": _age(now, oldest_due),
        "awaiting_receipt": awaiting,
    }


def retries() -> list[RetryCount]:
    return list(db.session.scalars(select(RetryCount).order_by(RetryCount.count.desc(), RetryCount.cause)))


def failures(now: datetime) -> list[tuple]:
    """Outbound messages failed in the last 24 hours, by error code."""
    return list(
        db.session.execute(
            select(Message.error_code, func.count(), func.max(Message.date_updated))
            .where(
                Message.direction == "outbound",
                Message.status == "failed",
                Message.date_updated >= now - timedelta(hours=24),
            )
            .group_by(Message.error_code)
            .order_by(func.count().desc())
            .limit(20)
        )
    )


def _age(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "–"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@bp.get("/delivery")
def delivery():
    now = utcnow()
    return render_template(
        "admin/delivery.html",
        circuit=circuit_state(),
        queue=queue_state(now),
        retries=retries(),
        failures=failures(now),
        validity=int(current_app.config.get("DELIVERY_VALIDITY_SECONDS", 14400)),
    )
