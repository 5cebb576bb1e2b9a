"""Inbox queries: filters, search and keyset paging on (last_message_at, id), newest first.

Keyset paging keeps a page as fast at the 100,000th thread as at the first; the index
ix_conversations_activity serves the order.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, or_, select

from app.conversations.models import Contact, Conversation, Message
from app.telefonie.schema import parse_time

FILTERS = ("open", "closed", "unread", "flagged", "opted_out", "mine")


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
    for name in filters:
        query = _filter(query, name, user_id)
    if search:
        query = _search(query, search)
    if cursor is not None:
        query = query.where(
            or_(
                Conversation.last_message_at < cursor.last_message_at,
                and_(Conversation.last_message_at == cursor.last_message_at, Conversation.id < cursor.id),
            )
        )
    return query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)


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
    raise ValueError(f"unknown filter {name!r}; use one of {', '.join(FILTERS)}")


def _search(query: Select, text: str) -> Select:
    text = text.strip()[:100]
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    in_messages = exists().where(
        Message.conversation_id == Conversation.id, Message.body.ilike(pattern, escape="\\")
    )
    return query.where(
        or_(Contact.phone.like(pattern, escape="\\"), Contact.name.ilike(pattern, escape="\\"), in_messages)
    )
