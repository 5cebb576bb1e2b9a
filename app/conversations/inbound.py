"""The inbound hot path in SQLAlchemy Core: statements built once per dialect with bound
parameters (so their compiled form is cached), no ORM objects unless someone acts on the message.

PostgreSQL: one round trip per webhook (then the commit), whatever the sender: a single statement
of data-modifying CTEs finds or creates the contact and the thread, inserts the message (ON
CONFLICT DO NOTHING on the provider id) and bumps the thread. SQLite: find the thread, create
contact and thread when new, insert, bump (a few statements; SQLite has no round trips).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import BigInteger, Boolean, Integer, String, bindparam, column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from app.conversations.models import Contact, Conversation, Message, new_sid
from app.dbutil import NOT_RUN, dialect, first_row_alone, notify, notify_committed, session_connection
from app.extensions import db
from app.publish import DESK_CHANNEL
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


# Data-modifying CTEs share one snapshot, so a row inserted by one is invisible to the others:
# a new thread gets its bump values in its INSERT, and a contact or thread inserted concurrently
# by another transaction (ON CONFLICT waits for it, then does nothing) is invisible to the
# fallback SELECT; then the statement returns no row and is run again (a new snapshot sees it).
STORE_INBOUND_PG = text("""
WITH p AS (
    SELECT CAST(:phone AS varchar) AS phone, CAST(:our AS varchar) AS our,
           CAST(:now AS timestamptz) AS now, CAST(:preview AS varchar) AS preview,
           set_config('app.desk_quiet', 'on', true) AS quiet
), new_contact AS (
    INSERT INTO contacts (phone, opted_out, created_at, updated_at)
    SELECT p.phone, false, p.now, p.now FROM p
    WHERE NOT EXISTS (SELECT 1 FROM contacts WHERE phone = p.phone)
    ON CONFLICT (phone) DO NOTHING
    RETURNING id, opted_out, name
), contact AS (
    SELECT id, opted_out, name FROM new_contact
    UNION ALL
    SELECT id, opted_out, name FROM contacts WHERE phone = (SELECT phone FROM p)
    LIMIT 1
), new_thread AS (
    INSERT INTO conversations (our_number, contact_id, status, flagged, tags, unread_count,
                               last_message_at, last_message_preview, created_at)
    SELECT p.our, contact.id, 'open', false, '[]'::jsonb, 1, p.now, p.preview, p.now FROM p, contact
    WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.our_number = p.our AND c.contact_id = contact.id)
    ON CONFLICT (our_number, contact_id) DO NOTHING
    RETURNING id, true AS fresh, assignee_id
), thread AS (
    SELECT id, fresh, assignee_id FROM new_thread
    UNION ALL
    SELECT c.id, false, c.assignee_id FROM conversations c, contact, p
    WHERE c.contact_id = contact.id AND c.our_number = p.our
    LIMIT 1
), message AS (
    INSERT INTO messages (sid, conversation_id, direction, status, from_number, to_number, body,
                          media_urls, encoding, num_segments, source, provider_id, date_created,
                          date_updated, attempts, outcome_unknown)
    SELECT :sid, thread.id, 'inbound', 'received', p.phone, p.our, :body, CAST(:media AS jsonb),
           :encoding, :segments, 'provider', :provider_id, :created, p.now, 0, false
    FROM p, thread
    ON CONFLICT (provider_id) DO NOTHING
    RETURNING id, conversation_id
), bump AS (
    UPDATE conversations SET last_message_at = p.now, last_message_preview = p.preview,
                             unread_count = conversations.unread_count + 1, status = 'open',
                             campaign_only = false
    FROM p, message, thread
    WHERE conversations.id = message.conversation_id AND NOT thread.fresh
    RETURNING conversations.id
)
SELECT message.id, thread.id, contact.id, contact.opted_out, contact.name, (SELECT count(*) FROM bump),
       thread.assignee_id
FROM contact CROSS JOIN thread LEFT JOIN message ON true
""").columns(
    # Typed result columns: SQLAlchemy keeps the result's metadata with the compiled statement
    # instead of building it from the cursor's description on every webhook (~0.04 ms each).
    column("message_id", BigInteger), column("conversation_id", Integer), column("contact_id", Integer),
    column("opted_out", Boolean), column("name", String), column("bumped", BigInteger),
    column("assignee_id", Integer),
)


def record_inbound(msg: InboundMessage, *, alone: bool = False) -> StoredInbound | None:
    """Store one inbound message; None when this provider id was stored before.

    `alone`: nothing else will be written for this message (app.pipeline.stands_alone). On
    PostgreSQL its one statement then commits by itself (autocommit): the same atomic write,
    durable when the statement returns, without a BEGIN and a COMMIT round trip (about 0.1 ms of
    Python and two of PostgreSQL's commands per webhook; bench/RESULTS.md)."""
    if dialect() == "postgresql":
        return _record_inbound_pg(msg, alone)
    return _record_inbound_sqlite(msg)


def _record_inbound_pg(msg: InboundMessage, alone: bool = False) -> StoredInbound | None:
    info = segments.analyze(msg.body)
    now = utcnow()
    created = msg.date_created or now
    params = {
        "phone": msg.from_number, "our": msg.to_number, "now": now, "created": created,
        "preview": (msg.body or "[media]")[:160], "sid": new_sid(), "body": msg.body,
        "media": json.dumps(list(msg.media_urls or [])), "encoding": info.encoding,
        "segments": info.num_segments, "provider_id": msg.provider_id,
    }
    row = first_row_alone(STORE_INBOUND_PG, params) if alone else NOT_RUN
    if row is None:  # a contact or thread created concurrently: invisible to this snapshot
        row = first_row_alone(STORE_INBOUND_PG, params)
    committed = row is not NOT_RUN
    if not committed:
        conn, _ = session_connection(alone)
        row = conn.execute(STORE_INBOUND_PG, params).first()
        if row is None:  # as above
            row = conn.execute(STORE_INBOUND_PG, params).first()
    if row is None:
        raise RuntimeError("the contact or thread of an inbound message could not be found or made")
    message_id, conversation_id, contact_id, opted_out, name, _, assignee_id = row
    if message_id is None:
        return None
    # The statement set app.desk_quiet: the desk_events triggers (migration 0013) stay silent in
    # this transaction, and its one event goes out after commit, off the commit's path.
    (notify_committed if committed else notify)(DESK_CHANNEL, json.dumps(
        {"c": conversation_id, "k": "in", "a": assignee_id, "p": (msg.body or "")[:100]},
        separators=(", ", ": "),
    ))
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


def _record_inbound_sqlite(msg: InboundMessage) -> StoredInbound | None:
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
