"""The inbound hot path in SQLAlchemy Core: statements built once per dialect with bound
parameters (so their compiled form is cached), no ORM objects unless someone acts on the message.

The common case is three statements: find the thread with its contact, insert the message
(ON CONFLICT DO NOTHING on the provider id), bump the thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.conversations.models import Contact, Conversation, Message, new_sid
from app.dbutil import dialect
from app.extensions import db
from app.telefonie import segments
from app.telefonie.schema import InboundMessage
from app.types import utcnow

MESSAGES = Message.__table__
CONVERSATIONS = Conversation.__table__
INSERT_COLUMNS = (
    "sid",
    "conversation_id",
    "direction",
    "status",
    "from_number",
    "to_number",
    "body",
    "media_urls",
    "encoding",
    "num_segments",
    "source",
    "provider_id",
    "date_created",
    "date_updated",
    "attempts",
    "outcome_unknown",
)


@dataclass(frozen=True)
class StoredInbound:
    """What consent and rules need of a stored inbound message, without loading ORM rows."""

    id: int
    conversation_id: int
    contact_id: int
    from_number: str
    to_number: str
    body: str
    opted_out: bool
    contact_name: str | None
    date_created: datetime


FIND_THREAD = (
    select(Conversation.id, Contact.id, Contact.opted_out, Contact.name)
    .join(Contact, Contact.id == Conversation.contact_id)
    .where(Conversation.our_number == bindparam("our"), Contact.phone == bindparam("phone"))
)

BUMP_THREAD = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("cid"))
    .values(
        last_message_at=bindparam("at"),
        last_message_preview=bindparam("preview"),
        unread_count=CONVERSATIONS.c.unread_count + 1,
        status="open",
        campaign_only=False,
    )
)


@cache
def _insert_message(dialect_name: str):
    """INSERT … ON CONFLICT DO NOTHING; on PostgreSQL the thread's bump rides in the same
    statement (a data-modifying CTE), saving a round trip. Returns the new id, or nothing."""
    module = postgresql if dialect_name == "postgresql" else sqlite
    insert = (
        module.insert(MESSAGES)
        .values({name: bindparam(f"v_{name}") for name in INSERT_COLUMNS})
        .on_conflict_do_nothing(index_elements=["provider_id"])
    )
    if dialect_name != "postgresql":
        return insert.returning(MESSAGES.c.id)
    inserted = insert.returning(MESSAGES.c.id, MESSAGES.c.conversation_id).cte("inserted")
    return (
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == inserted.c.conversation_id)
        .values(
            last_message_at=bindparam("at"),
            last_message_preview=bindparam("preview"),
            unread_count=CONVERSATIONS.c.unread_count + 1,
            status="open",
            campaign_only=False,  # the recipient replied: a support thread now
        )
        .returning(inserted.c.id)
    )


def record_inbound(msg: InboundMessage) -> StoredInbound | None:
    """Store one inbound message; None when this provider id was stored before."""
    from app.conversations.service import get_or_create_contact, get_or_create_conversation

    conn = db.session.connection()  # Core on the session's connection: no ORM compile step
    row = conn.execute(FIND_THREAD, {"our": msg.to_number, "phone": msg.from_number}).first()
    if row is None:
        contact = get_or_create_contact(msg.from_number)
        conversation = get_or_create_conversation(msg.to_number, contact)
        row = (conversation.id, contact.id, contact.opted_out, contact.name)
    conversation_id, contact_id, opted_out, name = row
    info = segments.analyze(msg.body)
    now = utcnow()
    created = msg.date_created or now
    values = {
        "sid": new_sid(),
        "conversation_id": conversation_id,
        "direction": "inbound",
        "status": "received",
        "from_number": msg.from_number,
        "to_number": msg.to_number,
        "body": msg.body,
        "media_urls": msg.media_urls,
        "encoding": info.encoding,
        "num_segments": info.num_segments,
        "source": "provider",
        "provider_id": msg.provider_id,
        "date_created": created,
        "date_updated": now,
        "attempts": 0,
        "outcome_unknown": False,
    }
    name_of = dialect()
    params = {f"v_{k}": v for k, v in values.items()}
    bump = {"cid": conversation_id, "at": now, "preview": (msg.body or "[media]")[:160]}
    if name_of == "postgresql":
        message_id = conn.execute(_insert_message(name_of), {**params, **bump}).scalar()
    else:
        message_id = conn.execute(_insert_message(name_of), params).scalar()
        if message_id is not None:
            conn.execute(BUMP_THREAD, bump)
    if message_id is None:
        return None
    return StoredInbound(
        id=message_id,
        conversation_id=conversation_id,
        contact_id=contact_id,
        from_number=msg.from_number,
        to_number=msg.to_number,
        body=msg.body,
        opted_out=bool(opted_out),
        contact_name=name,
        date_created=created,
    )
