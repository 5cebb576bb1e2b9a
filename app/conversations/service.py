"""The conversations model's services: record_inbound, record_status, queue_outbound.

Each runs inside the caller's transaction; the caller commits. Exactly-once rests on unique
constraints (INSERT ... ON CONFLICT DO NOTHING), never on check-then-insert.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from app.consent.guard import ensure_can_send
from app.conversations.models import Contact, Conversation, Message, Receipt, new_sid
from app.dbutil import insert_ignore, lock_key, notify
from app.extensions import db
from app.telefonie import segments
from app.telefonie.schema import OUTBOUND_RANK, InboundMessage, StatusReport, moves_forward, parse_time
from app.types import utcnow

QUEUE_CHANNEL = "outbound_queue"


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


def record_inbound(msg: InboundMessage) -> Message | None:
    """Store one inbound message; None when this provider id was stored before."""
    conversation = find_conversation(msg.to_number, msg.from_number)
    if conversation is None:
        conversation = get_or_create_conversation(msg.to_number, get_or_create_contact(msg.from_number))
    info = segments.analyze(msg.body)
    now = utcnow()
    message = db.session.scalar(
        insert_ignore(Message, ["provider_id"])
        .values(
            sid=new_sid(),
            conversation_id=conversation.id,
            direction="inbound",
            status="received",
            from_number=msg.from_number,
            to_number=msg.to_number,
            body=msg.body,
            media_urls=msg.media_urls,
            encoding=info.encoding,
            num_segments=info.num_segments,
            source="provider",
            provider_id=msg.provider_id,
            date_created=msg.date_created or now,
            date_updated=now,
            attempts=0,
            outcome_unknown=False,
        )
        .returning(Message)
    )
    if message is None:
        return None
    touch(conversation, msg.body or "[media]", now, inbound=True)
    set_committed_value(message, "conversation", conversation)  # consent and rules read it next
    return message


def find_conversation(our_number: str, phone: str) -> Conversation | None:
    """The thread between one of our numbers and a contact, with its contact, in one query."""
    return db.session.scalar(
        select(Conversation)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.our_number == our_number, Contact.phone == phone)
        .options(contains_eager(Conversation.contact))
    )


def touch(conversation: Conversation, preview: str, when: datetime, *, inbound: bool) -> None:
    values = {"last_message_at": when, "last_message_preview": preview[:160]}
    if inbound:
        values["unread_count"] = Conversation.unread_count + 1
        values["status"] = "open"
    # An atomic increment in SQL; the loaded object is left as it is (no reload on the hot path).
    db.session.execute(
        update(Conversation).where(Conversation.id == conversation.id).values(**values),
        execution_options={"synchronize_session": False},
    )


def queue_outbound(
    conversation: Conversation,
    body: str,
    *,
    media_urls: list[str] | None = None,
    source: str,
    validity_period: int | None = None,
) -> Message:
    """Queue one outbound message in the thread; the delivery worker sends it.

    Consent replies (source "consent") are the only messages an opted-out contact may get.
    """
    if source != "consent":
        ensure_can_send(conversation.contact)
    info = segments.analyze(body or "")
    if info.num_segments > segments.MAX_SEGMENTS:
        raise BodyTooLong(
            f"'body' is {info.num_segments} segments long; the limit is {segments.MAX_SEGMENTS}"
        )
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
    touch(conversation, body or "[media]", now, inbound=False)
    notify(QUEUE_CHANNEL)
    return message


def record_status(report: StatusReport) -> bool:
    """Keep one status report and apply it if its message is known; False for a repeat."""
    lock_key(report.provider_id)
    receipt_id = db.session.scalar(
        insert_ignore(Receipt.__table__, ["provider_id", "status"])
        .values(
            provider_id=report.provider_id,
            status=report.status,
            error_code=report.error_code,
            error_message=report.error_message,
            applied=False,
            payload=report.raw,
            received_at=utcnow(),
        )
        .returning(Receipt.__table__.c.id)
    )
    if receipt_id is None:
        return False
    message = db.session.scalar(
        select(Message).where(Message.provider_id == report.provider_id).with_for_update()
    )
    if message is not None:
        apply_receipt(message, db.session.get(Receipt, receipt_id))
    return True


def apply_receipt(message: Message, receipt: Receipt) -> None:
    receipt.message_id = message.id
    receipt.applied = True
    payload = receipt.payload or {}
    if payload.get("price") not in (None, ""):
        message.price = str(payload["price"])
        message.price_unit = payload.get("price_unit") or message.price_unit
    if not moves_forward(message.status, receipt.status):
        return
    message.status = receipt.status
    message.date_updated = utcnow()
    if receipt.error_code is not None:
        message.error_code = receipt.error_code
        message.error_message = receipt.error_message
    if receipt.status in ("sent", "delivered") and message.date_sent is None:
        message.date_sent = parse_time(payload.get("date_sent")) or utcnow()


def apply_pending_receipts(message: Message) -> int:
    """Apply the receipts that arrived before this message's provider id was recorded."""
    pending = db.session.scalars(
        select(Receipt).where(Receipt.provider_id == message.provider_id, Receipt.message_id.is_(None))
    )
    count = 0
    for receipt in sorted(pending, key=lambda r: (OUTBOUND_RANK.get(r.status, 9), r.id)):
        apply_receipt(message, receipt)
        count += 1
    return count
