"""Campaigns: create (bulk insert of the audience), transitions, counts by bucket, recipient rows.

The dispatcher (queueing the messages at the pace, inside quiet hours) is in dispatch.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from flask import g
from sqlalchemy import and_, case, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import aliased

from app.campaigns.audience import Audience, Row
from app.campaigns.models import BUCKETS, Campaign, CampaignRecipient, CampaignSender
from app.conversations.models import Contact, Message
from app.dbutil import dialect
from app.events import log_event
from app.extensions import db
from app.types import utcnow

OPTED_OUT = 21610
WITHDRAWN = "withdrawn: the campaign was cancelled before this message was sent"
TRANSITIONS = {
    "pause": ({"scheduled", "running"}, "paused"),
    "resume": ({"paused"}, "running"),
    "cancel": ({"scheduled", "running", "paused"}, "cancelled"),
}
R = CampaignRecipient


class InvalidTransition(Exception):
    def __init__(self, campaign: Campaign, action: str) -> None:
        super().__init__(f"campaign {campaign.id} is {campaign.status}; it cannot {action}")


def create(
    *,
    name: str,
    from_numbers: list[str],
    body: str,
    media_urls: list[str],
    audience: Audience,
    rate_per_minute: int,
    send_at: datetime | None = None,
    created_by: str | None = None,
) -> Campaign:
    """Store the campaign and every audience row (in bulk); the caller commits."""
    now = utcnow()
    send_at = send_at or now
    campaign = Campaign(
        name=name,
        from_numbers=list(from_numbers),
        body=body,
        media_urls=list(media_urls),
        status="running" if send_at <= now else "scheduled",
        send_at=send_at,
        rate_per_minute=rate_per_minute,
        rejected=audience.rejected,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    db.session.add(campaign)
    db.session.flush()
    db.session.execute(
        insert(CampaignSender),
        [{"campaign_id": campaign.id, "from_number": n, "next_slot_at": None} for n in from_numbers],
    )
    _insert_rows(campaign.id, audience.rows)
    _name_contacts(campaign.id)
    log_event("campaign_state", campaign_id=campaign.id, status=campaign.status, action="create")
    return campaign


def _insert_rows(campaign_id: int, rows: list[Row]) -> None:
    """COPY on PostgreSQL (100,000 rows in about a second); executemany in batches elsewhere."""
    if dialect() == "postgresql":
        raw = db.session.connection().connection.driver_connection
        columns = "campaign_id, row_number, phone, name, fields, from_number, outcome"
        with raw.cursor() as cursor, cursor.copy(f"COPY campaign_recipients ({columns}) FROM STDIN") as copy:
            for r in rows:
                fields = json.dumps(r.fields) if r.fields else None
                copy.write_row((campaign_id, r.row, r.phone, r.name, fields, r.from_number, r.outcome))
        return
    for start in range(0, len(rows), 5000):
        db.session.execute(
            insert(CampaignRecipient),
            [
                {
                    "campaign_id": campaign_id,
                    "row_number": r.row,
                    "phone": r.phone,
                    "name": r.name,
                    "fields": r.fields,
                    "from_number": r.from_number,
                    "outcome": r.outcome,
                }
                for r in rows[start : start + 5000]
            ],
        )


def _name_contacts(campaign_id: int) -> None:
    """Names from the list fill in existing contacts that have none (one statement)."""
    db.session.execute(
        text(
            "UPDATE contacts SET name = r.name, updated_at = :now FROM campaign_recipients r "
            "WHERE r.campaign_id = :cid AND r.outcome = 'pending' AND r.name IS NOT NULL "
            "AND r.phone = contacts.phone AND (contacts.name IS NULL OR contacts.name = '')"
        ),
        {"cid": campaign_id, "now": utcnow().replace(tzinfo=None) if dialect() == "sqlite" else utcnow()},
    )


def transition(campaign: Campaign, action: str) -> Campaign:
    """pause, resume, cancel; cancel also withdraws messages queued but not yet handed to the provider."""
    allowed_from, target = TRANSITIONS[action]
    if dialect() == "postgresql":  # wait for a dispatcher working on this campaign
        db.session.refresh(campaign, with_for_update=True)
    if campaign.status not in allowed_from:
        raise InvalidTransition(campaign, action)
    now = utcnow()
    if action == "resume" and campaign.send_at > now:
        target = "scheduled"
    campaign.status = target
    campaign.updated_at = now
    log_event("campaign_state", campaign_id=campaign.id, status=target, action=action)
    if action == "cancel":
        _withdraw(campaign, now)
    db.session.flush()
    return campaign


def campaign_label(campaign_id: int) -> str:
    """How a thread names a campaign message: `campaign “Spring sale”` (names cached per request)."""
    cache = g.setdefault("campaign_names", {})
    if campaign_id not in cache:
        cache[campaign_id] = db.session.scalar(select(Campaign.name).where(Campaign.id == campaign_id))
    name = cache[campaign_id]
    return f"campaign “{name}”" if name else "campaign"


def pause(campaign: Campaign) -> Campaign:
    return transition(campaign, "pause")


def resume(campaign: Campaign) -> Campaign:
    return transition(campaign, "resume")


def cancel(campaign: Campaign) -> Campaign:
    return transition(campaign, "cancel")


def _withdraw(campaign: Campaign, now: datetime) -> None:
    db.session.execute(
        update(R).where(R.campaign_id == campaign.id, R.outcome == "pending").values(outcome="cancelled"),
        execution_options={"synchronize_session": False},
    )
    # A message a worker holds a lease on is being sent: it is left alone (it counts as sent).
    withdrawn = list(
        db.session.scalars(
            update(Message)
            .where(
                Message.campaign_id == campaign.id,
                Message.status == "queued",
                Message.provider_id.is_(None),
                or_(Message.lease_until.is_(None), Message.lease_until < now),
            )
            .values(status="failed", error_message=WITHDRAWN, date_updated=now, next_attempt_at=None)
            .returning(Message.id),
            execution_options={"synchronize_session": False},
        )
    )
    for start in range(0, len(withdrawn), 1000):
        db.session.execute(
            update(R).where(R.message_id.in_(withdrawn[start : start + 1000])).values(outcome="cancelled"),
            execution_options={"synchronize_session": False},
        )


OptedOut = aliased(Contact)


def _with_buckets(query):
    """Join what bucket_column() reads: the message, and the contact only when opted out."""
    return query.outerjoin(Message, Message.id == R.message_id).outerjoin(
        OptedOut, and_(OptedOut.phone == R.phone, OptedOut.opted_out.is_(True))
    )


def bucket_column(message=Message):
    """The recipient's bucket: its own outcome until a message exists, then the message's status.
    A pending recipient who opted out meanwhile is already counted `skipped_opted_out` (the
    dispatcher will skip them)."""
    return case(
        (and_(R.outcome == "pending", OptedOut.id.is_not(None)), "skipped_opted_out"),
        (R.outcome != "queued", R.outcome),
        (message.id.is_(None), "failed"),
        (and_(message.status == "failed", message.error_code == OPTED_OUT), "skipped_opted_out"),
        (message.status.in_(("queued", "sending")), "queued"),
        else_=message.status,
    )


def counts(campaign_id: int) -> dict:
    """Every row in one bucket (they add up to `total`), plus `replies`."""
    result = {b: 0 for b in BUCKETS}
    bucket = bucket_column().label("bucket")
    rows = db.session.execute(
        _with_buckets(select(bucket, func.count()).select_from(R))
        .where(R.campaign_id == campaign_id)
        .group_by(bucket)
    )
    for name, n in rows:
        result[name] = result.get(name, 0) + n
    result["total"] = sum(result.values())
    result["replies"] = replies(campaign_id)
    return result


def replies(campaign_id: int) -> int:
    """Recipients who texted back (any inbound message in the thread) after their campaign message."""
    inbound = aliased(Message)
    return db.session.scalar(
        select(func.count())
        .select_from(R)
        .join(Message, Message.id == R.message_id)
        .where(
            R.campaign_id == campaign_id,
            exists().where(
                inbound.conversation_id == Message.conversation_id,
                inbound.direction == "inbound",
                inbound.id > Message.id,
            ),
        )
    )


def errors(campaign_id: int) -> list[tuple[int | None, str, int]]:
    """Failed and undelivered messages grouped by error code: (code, an example message, count)."""
    rows = db.session.execute(
        select(Message.error_code, func.min(Message.error_message), func.count())
        .join(R, R.message_id == Message.id)
        .where(R.campaign_id == campaign_id, Message.status.in_(("failed", "undelivered")))
        .group_by(Message.error_code)
        .order_by(func.count().desc())
    )
    return [(code, text or "", n) for code, text, n in rows]


def recipients_query(campaign_id: int):
    query = select(
        R.phone,
        R.name,
        bucket_column().label("status"),
        Message.sid.label("message_id"),
        R.from_number,
        Message.error_code,
        R.row_number,
    ).select_from(R)
    return _with_buckets(query).where(R.campaign_id == campaign_id).order_by(R.id)


def recipient_page(campaign_id: int, page: int, size: int) -> tuple[list[dict], int]:
    total = db.session.scalar(select(func.count()).select_from(R).where(R.campaign_id == campaign_id))
    rows = db.session.execute(recipients_query(campaign_id).offset((page - 1) * size).limit(size))
    return [_recipient_json(r) for r in rows], total


def iter_recipients(campaign_id: int) -> Iterator[dict]:
    rows = db.session.execute(recipients_query(campaign_id).execution_options(yield_per=2000))
    for r in rows:
        yield _recipient_json(r)


def _recipient_json(r) -> dict:
    return {
        "row": r.row_number,
        "phone": r.phone,
        "name": r.name,
        "status": r.status,
        "message_id": r.message_id,
        "from": r.from_number,
        "error_code": r.error_code,
    }


from app.campaigns.dispatch import dispatch  # noqa: E402,F401  (the worker calls service.dispatch())
