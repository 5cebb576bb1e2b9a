"""The thread's timeline beyond messages: private notes and who-did-what events.

Both are merged with the messages by time on the thread page; events also feed the reports
(first responses are `replied` events, resolutions are `closed` events).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import current_user
from sqlalchemy import select

from app.admin.models import Note, ThreadEvent
from app.admin.present import when
from app.conversations.serialize import iso
from app.extensions import db

TIMELINE_LIMIT = 200
EVENT_TEXT = {
    "assigned": "assigned the thread to {detail}",
    "unassigned": "unassigned the thread",
    "closed": "closed the thread",
    "reopened": "reopened the thread",
    "tagged": "set the tags: {detail}",
    "untagged": "removed the tags",
    "replied": "replied",
}


def record(conversation_id: int, kind: str, detail: str | None = None, message_id: int | None = None) -> None:
    """Add an event by the signed-in user (committed with the caller's change)."""
    actor = current_user.id if current_user and current_user.is_authenticated else None
    db.session.add(
        ThreadEvent(
            conversation_id=conversation_id,
            actor_id=actor,
            kind=kind,
            detail=(detail or None) and detail[:300],
            message_id=message_id,
        )
    )


def note_view(note: Note, users: dict[int, str]) -> dict[str, Any]:
    return {
        "id": note.id,
        "body": note.body,
        "author": users.get(note.author_id, "a former user") if note.author_id else "a former user",
        "at": iso(note.created_at),
        "at_text": when(note.created_at),
    }


def event_view(event: ThreadEvent, users: dict[int, str]) -> dict[str, Any]:
    actor = users.get(event.actor_id, "someone") if event.actor_id else "a rule or the system"
    text = EVENT_TEXT.get(event.kind, event.kind).format(detail=event.detail or "")
    return {
        "id": event.id,
        "kind": event.kind,
        "text": f"{actor} {text}",
        "at": iso(event.created_at),
        "at_text": when(event.created_at),
    }


def notes_after(conversation_id: int, after: int, users: dict[int, str]) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Note)
        .where(Note.conversation_id == conversation_id, Note.id > after)
        .order_by(Note.id)
        .limit(TIMELINE_LIMIT)
    )
    return [note_view(n, users) for n in rows]


def extras(conversation_id: int, since: datetime | None, users: dict[int, str]) -> list[dict[str, Any]]:
    """Notes and events (except `replied`, the message shows that) since `since`, as timeline items."""
    notes = select(Note).where(Note.conversation_id == conversation_id)
    events = select(ThreadEvent).where(
        ThreadEvent.conversation_id == conversation_id, ThreadEvent.kind != "replied"
    )
    if since is not None:
        notes = notes.where(Note.created_at >= since)
        events = events.where(ThreadEvent.created_at >= since)
    items: list[dict[str, Any]] = []
    for n in db.session.scalars(notes.order_by(Note.id.desc()).limit(TIMELINE_LIMIT)):
        items.append({"type": "note", "sort": n.created_at, **note_view(n, users)})
    for e in db.session.scalars(events.order_by(ThreadEvent.id.desc()).limit(TIMELINE_LIMIT)):
        items.append({"type": "event", "sort": e.created_at, **event_view(e, users)})
    return items


def merge(messages: list[dict[str, Any]], message_times: list[datetime], items: list[dict]) -> list[dict]:
    """One list by time: messages keep their order, notes and events slot in between."""
    timeline = [{"type": "message", "sort": t, "m": m} for m, t in zip(messages, message_times, strict=True)]
    timeline.extend(items)
    timeline.sort(key=lambda item: item["sort"])
    return timeline
