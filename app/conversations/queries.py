"""Inbox queries: filters, search and keyset paging on (last_message_at, id), newest first.

Campaign threads: a thread whose every message is a campaign message (conversations.campaign_only,
kept by conversations.service and the inbound path) is not a support thread: the default view
leaves it out, the "campaigns" filter shows only those. Both are one range of the index
ix_conversations_inbox (campaign_only, last_message_at, id), so hiding them costs nothing per row.

Keyset paging: the cursor is a row-value comparison, (last_message_at, id) < (x, y), which
PostgreSQL (and SQLite >= 3.15) read as one range of the index ix_conversations_activity, so a page
at the 100,000th thread starts where the cursor points and is as fast as the first.

Search: a case-insensitive substring match (ILIKE '%term%'; percent signs, underscores and
backslashes in the term match literally) of the contact's name, the phone number (LIKE) and the
text of any message in the thread. It is two sub-queries, "the newest `limit` threads whose messages
match" and "... whose contact matches", whose ids the page then orders and cuts. Each is a plain AND
of conditions, so PostgreSQL chooses per term from its statistics: walk the inbox newest first and
check each thread (a common word matches at once), or read the few matching rows from the trigram
GIN indexes of migrations 0002 and 0016 (ix_messages_body_trgm, ix_contacts_name_trgm, ix_contacts_phone_trgm)
and sort them (a rare word, or none at all). One query with `... OR EXISTS (a message matches)` can
only walk: about a second for a word in none of a million messages.

Short terms: a trigram index can only find a term with at least three letters or digits in a row;
for any other term (1-2 characters such as "ok", or punctuation such as "%" or "???") PostgreSQL
would read the whole index or every message. Such a term searches names and phone numbers only, not
message text, on every database (SQLite and PostgreSQL return the same rows). SQLite has no trigram
index; its search scans, which is fine for development data.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, tuple_, union_all

from app.conversations.models import Contact, Conversation, Message
from app.telefonie.schema import parse_time

FILTERS = ("open", "closed", "unread", "flagged", "opted_out", "mine", "campaigns")
SEARCH_MAX = 100  # characters of the search term used
BODY_SEARCH_MIN = re.compile(r"[^\W_]{3}")  # 3 letters or digits in a row: message text is searched too
NEWEST_FIRST = (Conversation.last_message_at.desc(), Conversation.id.desc())


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    last_message_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.last_message_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            when, ident = json.loads(raw)
            parsed = parse_time(when)
            if parsed is None or not isinstance(ident, int):
                raise ValueError
            return cls(parsed, ident)
        except (ValueError, TypeError) as exc:
            raise BadCursor("the cursor is not valid; start again without it") from exc


def inbox(
    *,
    filters: tuple[str, ...] = (),
    search: str | None = None,
    user_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 50,
) -> Select:
    query = select(Conversation).join(Contact, Contact.id == Conversation.contact_id)
    query = query.where(Conversation.campaign_only.is_("campaigns" in filters))
    for name in filters:
        query = _filter(query, name, user_id)
    if cursor is not None:
        query = query.where(
            tuple_(Conversation.last_message_at, Conversation.id) < (cursor.last_message_at, cursor.id)
        )
    if search and search.strip():
        query = _search(query, search.strip()[:SEARCH_MAX], limit)
    return query.order_by(*NEWEST_FIRST).limit(limit)


def next_cursor(rows: list[Conversation], limit: int) -> str | None:
    if len(rows) < limit or not rows:
        return None
    last = rows[-1]
    return Cursor(last.last_message_at, last.id).encode()


def _filter(query: Select, name: str, user_id: int | None) -> Select:
    if name == "open":
        return query.where(Conversation.status == "open")
    if name == "closed":
        return query.where(Conversation.status == "closed")
    if name == "unread":
        return query.where(Conversation.unread_count > 0)
    if name == "flagged":
        return query.where(Conversation.flagged.is_(True))
    if name == "opted_out":
        return query.where(Contact.opted_out.is_(True))
    if name == "mine":
        return query.where(Conversation.assignee_id == user_id)
    if name == "campaigns":
        return query  # applied in inbox(): campaign_only leads the keyset index
    raise ValueError(f"unknown filter {name!r}; use one of {', '.join(FILTERS)}")


def contact_matches(pattern: str) -> ColumnElement[bool]:
    """Name (ILIKE) or phone number (LIKE on lower(phone): the expression of the trigram index,
    migration 0016, which equality lookups never match) contains the escaped LIKE `pattern`."""
    return or_(
        func.lower(Contact.phone).like(pattern, escape="\\"), Contact.name.ilike(pattern, escape="\\")
    )


def _search(query: Select, text: str, limit: int) -> Select:
    """`query` (filters and cursor applied) narrowed to the threads matching `text`; see the module doc."""
    pattern = like_pattern(text)
    in_contact = contact_matches(pattern)
    if not BODY_SEARCH_MIN.search(text):
        return query.where(in_contact)
    in_messages = exists().where(
        Message.conversation_id == Conversation.id, Message.body.ilike(pattern, escape="\\")
    )
    matching = union_all(_newest_ids(query, in_messages, limit), _newest_ids(query, in_contact, limit))
    return query.where(Conversation.id.in_(matching))


def _newest_ids(query: Select, condition: ColumnElement[bool], limit: int) -> Select:
    """The ids of the newest `limit` threads of `query` meeting `condition`."""
    newest = query.with_only_columns(Conversation.id).where(condition).order_by(*NEWEST_FIRST).limit(limit)
    found = newest.subquery()
    return select(found.c.id)


def like_pattern(text: str) -> str:
    """'%text%' for LIKE/ILIKE ... ESCAPE '\\': the term's own %, _ and \\ match literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
