"""The conversations model's services: record_status, queue_outbound (record_inbound is in inbound.py).

Each runs inside the caller's transaction; the caller commits. Exactly-once rests on unique
constraints (INSERT ... ON CONFLICT DO NOTHING), never on check-then-insert.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from app.consent.guard import ensure_can_send
from app.conversations.models import Contact, Conversation, Message, Receipt
from app.dbutil import (
    NOT_RUN,
    dialect,
    first_row_alone,
    insert_ignore,
    lock_key,
    notify,
    notify_committed,
    session_connection,
)
from app.events import log_event
from app.extensions import db
from app.publish import DESK_CHANNEL
from app.telefonie import segments
from app.telefonie.schema import OUTBOUND_RANK, StatusReport, moves_forward, parse_time
from app.types import utcnow

QUEUE_CHANNEL = "outbound_queue"
CUT_MARK = "..."
log = logging.getLogger(__name__)


class BodyTooLong(ValueError):
    pass


def get_or_create_contact(phone: str) -> Contact:
    contact = db.session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is None:
        now = utcnow()
        db.session.execute(
            insert_ignore(Contact.__table__, ["phone"]).values(
                phone=phone, opted_out=False, created_at=now, updated_at=now
            )
        )
        contact = db.session.scalar(select(Contact).where(Contact.phone == phone))
    return contact


def get_or_create_conversation(our_number: str, contact: Contact) -> Conversation:
    query = select(Conversation).where(
        Conversation.our_number == our_number, Conversation.contact_id == contact.id
    )
    conversation = db.session.scalar(query)
    if conversation is None:
        now = utcnow()
        db.session.execute(
            insert_ignore(Conversation.__table__, ["our_number", "contact_id"]).values(
                our_number=our_number,
                contact_id=contact.id,
                status="open",
                flagged=False,
                tags=[],
                unread_count=0,
                last_message_at=now,
                created_at=now,
            )
        )
        conversation = db.session.scalar(query)
    return conversation


OUTBOUND_MARK = "You: "


def preview_of(body: str | None, direction: str) -> str:
    """The inbox preview of a thread's latest message: our own messages marked "You: ", so an
    auto-reply is never mistaken for the customer's words."""
    text = body or "[media]"
    return (text if direction == "inbound" else OUTBOUND_MARK + text)[:160]


def refresh_preview(conversation_id: int) -> None:
    """Preview the thread's latest remaining message (after one was deleted); none when empty."""
    latest = db.session.execute(
        select(Message.body, Message.direction)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    preview = preview_of(latest.body, latest.direction) if latest is not None else None
    db.session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(last_message_preview=preview),
        execution_options={"synchronize_session": False},
    )


def touch(
    conversation: Conversation, preview: str, when: datetime, *, inbound: bool, campaign: bool = False
) -> None:
    preview = preview_of(preview, "inbound" if inbound else "outbound")
    values = {"last_message_at": when, "last_message_preview": preview}
    values["campaign_only"] = campaign_only_now(conversation.id) if campaign else False
    if inbound:
        values["unread_count"] = Conversation.unread_count + 1
        values["status"] = "open"
    # An atomic increment in SQL; the loaded object is left as it is (no reload on the hot path).
    db.session.execute(
        update(Conversation).where(Conversation.id == conversation.id).values(**values),
        execution_options={"synchronize_session": False},
    )


def campaign_only_now(conversation_id: int):
    """SQL: true when no message of the thread but campaign messages exists (one indexed probe)."""
    return ~exists().where(Message.conversation_id == conversation_id, Message.source != "campaign")


def refresh_campaign_only(conversation_id: int) -> None:
    """After a message left the thread (API delete): a thread left with campaign messages only
    goes back out of the support inbox; an empty thread stays where it is."""
    any_campaign = exists().where(Message.conversation_id == conversation_id, Message.source == "campaign")
    db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(campaign_only=any_campaign & campaign_only_now(conversation_id)),
        execution_options={"synchronize_session": False},
    )


def queue_outbound(
    conversation: Conversation,
    body: str,
    *,
    media_urls: list[str] | None = None,
    source: str,
    validity_period: int | None = None,
    cut_to_limit: bool = False,
) -> Message:
    """Queue one outbound message in the thread; the delivery worker sends it.

    Consent replies (source "consent") are the only messages an opted-out contact may get.
    A body over the segment limit is refused (BodyTooLong) for people and programs, who can fix
    it; automatic replies pass `cut_to_limit`, because refusing them would fail the webhook
    that stores the customer's message: the body is cut to fit, logged, and the thread flagged.
    """
    if source != "consent":
        ensure_can_send(conversation.contact)
    info = segments.analyze(body or "")
    if info.num_segments > segments.MAX_SEGMENTS:
        if not cut_to_limit:
            raise BodyTooLong(
                f"'body' is {info.num_segments} segments long; the limit is {segments.MAX_SEGMENTS}"
            )
        original = info.num_segments
        body = fit_to_segments(body)
        info = segments.analyze(body)
        reason = f"an automatic {source} reply of {original} segments was cut to {info.num_segments}"
        conversation.flagged = True
        conversation.flag_reason = reason
        log.warning("conversation %s: %s", conversation.id, reason)
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        direction="outbound",
        status="queued",
        from_number=conversation.our_number,
        to_number=conversation.contact.phone,
        body=body or "",
        media_urls=list(media_urls or []),
        encoding=info.encoding,
        num_segments=info.num_segments,
        source=source,
        validity_period=validity_period,
        date_created=now,
        date_updated=now,
        next_attempt_at=now,
        attempts=0,
        outcome_unknown=False,
    )
    db.session.add(message)
    db.session.flush()
    log_event("reply_queued", message_id=message.id, conversation_id=conversation.id, source=source)
    touch(conversation, body or "[media]", now, inbound=False, campaign=source == "campaign")
    notify(QUEUE_CHANNEL)
    return message


def fit_to_segments(body: str, limit: int = segments.MAX_SEGMENTS) -> str:
    """The longest prefix of `body` (whole code points, so never half a surrogate pair) that,
    with CUT_MARK after it, fits in `limit` segments; a binary search over the length."""
    low, high = 0, len(body)
    while low < high:
        middle = (low + high + 1) // 2
        if segments.count_segments(body[:middle].rstrip() + CUT_MARK) <= limit:
            low = middle
        else:
            high = middle - 1
    return body[:low].rstrip() + CUT_MARK


MESSAGES = Message.__table__
APPLIED_COLUMNS = (
    "status",
    "date_updated",
    "error_code",
    "error_message",
    "date_sent",
    "price",
    "price_unit",
)
FIND_BY_PROVIDER_ID = (
    select(MESSAGES.c.id, *(MESSAGES.c[name] for name in APPLIED_COLUMNS))
    .where(MESSAGES.c.provider_id == bindparam("pid"))
    .with_for_update()
)


@cache
def _insert_receipt(dialect_name: str):
    """Built once per dialect with bound parameters, so its compiled form is cached."""
    return _receipt_insert(dialect_name).returning(Receipt.__table__.c.id)


def _receipt_insert(dialect_name: str):
    module = postgresql if dialect_name == "postgresql" else sqlite
    table = Receipt.__table__
    columns = (
        "provider_id",
        "message_id",
        "status",
        "error_code",
        "error_message",
        "applied",
        "payload",
        "received_at",
    )
    return (
        module.insert(table)
        .values({name: bindparam(f"r_{name}") for name in columns})
        .on_conflict_do_nothing(index_elements=["provider_id", "status"])
    )


@cache
def _receipt_and_update() -> object:
    """PostgreSQL: insert the receipt and apply it in one statement (a data-modifying CTE); the
    update happens only when the receipt is new. Every applied column is set, to its old value
    when the report does not change it, so the statement has one shape and is compiled once."""
    table = Receipt.__table__
    inserted = _receipt_insert("postgresql").returning(table.c.id, table.c.message_id).cte("inserted")
    return (
        update(MESSAGES)
        .where(MESSAGES.c.id == bindparam("mid"), MESSAGES.c.id == inserted.c.message_id)
        .values({name: bindparam(f"m_{name}") for name in APPLIED_COLUMNS})
        .returning(inserted.c.id)
    )


def record_status(report: StatusReport) -> bool:
    """Keep one status report and apply it if its message is known; False for a repeat.

    Known message (the common case): on PostgreSQL one statement locks its row, keeps the receipt
    and applies it (RECORD_STATUS_PG); on SQLite, lock, insert, update. Unknown: take the provider
    id's advisory lock (the worker holds it while recording that id) and look again before keeping
    the receipt for later.
    """
    row = None
    if dialect() == "postgresql":
        # The known message's statement is the whole work: it commits by itself (autocommit; no
        # BEGIN and COMMIT round trips) unless this session has begun a transaction already.
        found, stored, alone = _record_status_pg(report)
        if found:
            return stored
        if alone:  # it wrote nothing; the rest holds the provider id's lock: a transaction of its own
            db.session.commit()
        conn = db.session.connection()
    else:
        conn = db.session.connection()
        row = conn.execute(FIND_BY_PROVIDER_ID, {"pid": report.provider_id}).first()
    if row is None:
        lock_key(report.provider_id)
        row = conn.execute(FIND_BY_PROVIDER_ID, {"pid": report.provider_id}).first()
    receipt = {
        "r_provider_id": report.provider_id,
        "r_message_id": row.id if row is not None else None,
        "r_status": report.status,
        "r_error_code": report.error_code,
        "r_error_message": report.error_message,
        "r_applied": row is not None,
        "r_payload": report.raw,
        "r_received_at": utcnow(),
    }
    if row is None:
        return conn.execute(_insert_receipt(dialect()), receipt).scalar() is not None
    changes = status_changes(
        row.status,
        row.date_sent is not None,
        row.price_unit,
        report.status,
        report.error_code,
        report.error_message,
        report.raw,
    )
    if dialect() == "postgresql":
        applied = {f"m_{name}": changes.get(name, getattr(row, name)) for name in APPLIED_COLUMNS}
        return conn.execute(_receipt_and_update(), {**receipt, **applied, "mid": row.id}).scalar() is not None
    if conn.execute(_insert_receipt(dialect()), receipt).scalar() is None:
        return False
    if changes:
        conn.execute(update(MESSAGES).where(MESSAGES.c.id == row.id).values(**changes))
    return True


# PostgreSQL, known message (the common case): lock the message, keep the receipt and apply it in
# one statement, one round trip. The same rules as status_changes(): price whenever given; status
# and error only when the status moves forward and the current one is not final; the send time
# whenever a sent or delivered report finds none (also late, after the final status). A report
# that changes none of these leaves the row as it is (no write).
# (the CASE is OUTBOUND_RANK for the statuses that are not final; a test keeps them in step)
RECORD_STATUS_PG = text("""
WITH p AS (
    SELECT CAST(:pid AS varchar) AS pid, CAST(:status AS varchar) AS status,
           CAST(:rank AS integer) AS rank,
           CAST(:error_code AS integer) AS error_code, CAST(:error_message AS varchar) AS error_message,
           CAST(:price AS varchar) AS price, CAST(:price_unit AS varchar) AS price_unit,
           CAST(:now AS timestamptz) AS now, CAST(:sent_at AS timestamptz) AS sent_at,
           set_config('app.desk_quiet', 'on', true) AS quiet
), m AS (
    SELECT messages.id, messages.status, messages.date_sent FROM messages, p
    WHERE messages.provider_id = p.pid FOR UPDATE OF messages
), r AS (
    INSERT INTO receipts (provider_id, message_id, status, error_code, error_message, applied, payload,
                          received_at)
    SELECT p.pid, m.id, p.status, p.error_code, p.error_message, true, CAST(:payload AS jsonb), p.now
    FROM p, m
    ON CONFLICT (provider_id, status) DO NOTHING
    RETURNING message_id
), f AS (
    SELECT m.id, m.date_sent, m.status NOT IN ('delivered', 'undelivered', 'failed')
           AND p.rank > CASE m.status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2
                        ELSE -1 END AS forward
    FROM m, p, r WHERE r.message_id = m.id
), u AS (
    UPDATE messages SET
        price = COALESCE(p.price, messages.price),
        price_unit = CASE WHEN p.price IS NULL THEN messages.price_unit
                          ELSE COALESCE(p.price_unit, messages.price_unit) END,
        status = CASE WHEN f.forward THEN p.status ELSE messages.status END,
        date_updated = CASE WHEN f.forward THEN p.now ELSE messages.date_updated END,
        error_code = CASE WHEN f.forward AND p.error_code IS NOT NULL THEN p.error_code
                          ELSE messages.error_code END,
        error_message = CASE WHEN f.forward AND p.error_code IS NOT NULL THEN p.error_message
                             ELSE messages.error_message END,
        date_sent = CASE WHEN p.status IN ('sent', 'delivered') AND f.date_sent IS NULL
                         THEN p.sent_at ELSE messages.date_sent END
    FROM p, f WHERE messages.id = f.id
      -- only when something changes: a late or repeated status with no new price or send time
      -- (a third of a shuffled storm) rewrites no row, touches no index and fires no trigger
      AND (f.forward
           OR p.price IS NOT NULL
              AND (p.price IS DISTINCT FROM messages.price
                   OR p.price_unit IS NOT NULL AND p.price_unit IS DISTINCT FROM messages.price_unit)
           OR p.status IN ('sent', 'delivered') AND f.date_sent IS NULL)
    RETURNING messages.conversation_id, f.forward
)
SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM r),
       (SELECT conversation_id FROM u WHERE forward LIMIT 1)
""")


def _record_status_pg(report: StatusReport) -> tuple[bool, bool, bool]:
    """(message found, receipt new, ran alone): one round trip when the message is known. Alone
    (the common case) it commits by itself, on the driver's connection (first_row_alone) or else
    on the session's in autocommit; within a transaction the session has begun, as part of it."""
    raw = report.raw or {}
    price = raw.get("price")
    now = utcnow()
    params = {
        "pid": report.provider_id, "status": report.status, "rank": OUTBOUND_RANK.get(report.status, -1),
        "error_code": report.error_code, "error_message": report.error_message,
        "price": None if price in (None, "") else str(price), "price_unit": raw.get("price_unit") or None,
        "now": now, "sent_at": parse_time(raw.get("date_sent")) or now, "payload": json.dumps(raw),
    }
    row = first_row_alone(RECORD_STATUS_PG, params)
    alone = committed = row is not NOT_RUN
    if not committed:
        conn, alone = session_connection(True)
        row = conn.execute(RECORD_STATUS_PG, params).one()
    if row[2] is not None:  # the status moved: the desk hears it after commit (migration 0013)
        payload = json.dumps({"c": row[2], "k": "msg"})
        (notify_committed if committed else notify)(DESK_CHANNEL, payload)
    return row[0] > 0, row[1] > 0, alone


def status_changes(
    current: str,
    has_date_sent: bool,
    price_unit: str | None,
    status: str,
    error_code: int | None,
    error_message: str | None,
    payload: dict | None,
) -> dict:
    """The columns a status report changes: price whenever given; status, error and send time
    only when the status moves forward (never backwards; the first final status wins)."""
    payload = payload or {}
    changes: dict = {}
    if payload.get("price") not in (None, ""):
        changes["price"] = str(payload["price"])
        changes["price_unit"] = payload.get("price_unit") or price_unit
    if status in ("sent", "delivered") and not has_date_sent:  # also when late: after the final one
        changes["date_sent"] = parse_time(payload.get("date_sent")) or utcnow()
    if not moves_forward(current, status):
        return changes
    changes["status"] = status
    changes["date_updated"] = utcnow()
    if error_code is not None:
        changes["error_code"] = error_code
        changes["error_message"] = error_message
    return changes


def apply_status(
    message: Message, status: str, error_code: int | None, error_message: str | None, payload: dict | None
) -> None:
    changes = status_changes(
        message.status,
        message.date_sent is not None,
        message.price_unit,
        status,
        error_code,
        error_message,
        payload,
    )
    for column, value in changes.items():
        setattr(message, column, value)


def apply_pending_receipts(message: Message) -> int:
    """Apply the receipts that arrived before this message's provider id was recorded."""
    pending = db.session.scalars(
        select(Receipt).where(Receipt.provider_id == message.provider_id, Receipt.message_id.is_(None))
    )
    count = 0
    for receipt in sorted(pending, key=lambda r: (OUTBOUND_RANK.get(r.status, 9), r.id)):
        receipt.message_id = message.id
        receipt.applied = True
        apply_status(message, receipt.status, receipt.error_code, receipt.error_message, receipt.payload)
        count += 1
    return count
