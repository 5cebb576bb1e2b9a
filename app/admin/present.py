"""How rows look on the admin's pages: one dictionary per row, shared by the Jinja templates and
the JSON the pages poll, so the server and the browser draw a message the same way.

Everything here is data, never markup: templates autoescape it and the JavaScript sets it with
textContent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import url_for
from sqlalchemy import select

from app.accounts.models import User
from app.campaigns.service import campaign_label
from app.consent.models import ConsentEvent
from app.conversations.models import Contact, Conversation, Message
from app.conversations.serialize import iso
from app.extensions import db

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".avif")
FINAL_STATUSES = ("delivered", "undelivered", "failed", "received")


def when(value: datetime | None) -> str:
    """UTC, to the minute; the browser rewrites <time> elements to the agent's local time."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def media_item(url: Any) -> dict[str, str]:
    """`image` (shown with <img>) and `file` (linked) only for http(s) URLs; anything else is text."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return {"url": text, "kind": "blocked"}
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return {"url": text, "kind": "blocked"}
    kind = "image" if parts.path.lower().endswith(IMAGE_SUFFIXES) else "file"
    return {"url": text, "kind": kind}


def status_text(m: Message) -> str:
    if m.status in ("failed", "undelivered") and (m.error_code or m.error_message):
        detail = " ".join(str(p) for p in (m.error_code, m.error_message) if p)
        return f"{m.status}: {detail}"
    return m.status


def message_view(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "direction": m.direction,
        "body": m.body or "",
        "at": iso(m.date_created),
        "at_text": when(m.date_created),
        "status": m.status,
        "status_text": status_text(m),
        "final": m.status in FINAL_STATUSES,
        "encoding": m.encoding,
        "segments": m.num_segments,
        "source": campaign_label(m.campaign_id) if m.campaign_id else m.source,
        "media": [media_item(u) for u in (m.media_urls or [])],
        "receipts_url": url_for("admin.receipts", message_id=m.id),
    }


def status_view(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "status": m.status,
        "status_text": status_text(m),
        "final": m.status in FINAL_STATUSES,
    }


def contact_label(contact: Contact) -> str:
    return contact.name or contact.phone


def conversation_row(c: Conversation, users: dict[int, str]) -> dict[str, Any]:
    return {
        "id": c.id,
        "url": url_for("admin.thread", conversation_id=c.id),
        "label": contact_label(c.contact),
        "phone": c.contact.phone,
        "named": bool(c.contact.name),
        "preview": c.last_message_preview or "",
        "at": iso(c.last_message_at),
        "at_text": when(c.last_message_at),
        "unread": c.unread_count,
        "status": c.status,
        "flagged": c.flagged,
        "flag_reason": c.flag_reason or "",
        "opted_out": c.contact.opted_out,
        "tags": list(c.tags or []),
        "assignee": users.get(c.assignee_id, "") if c.assignee_id else "",
    }


def agents() -> dict[int, str]:
    """Every admin user's id and email: one small query, whatever the page shows."""
    return dict(db.session.execute(select(User.id, User.email).order_by(User.email)).all())


def opted_out_notice(contact: Contact) -> str | None:
    """Why the reply box is disabled, or None when the contact may be messaged."""
    if not contact.opted_out:
        return None
    event = db.session.scalar(
        select(ConsentEvent)
        .where(ConsentEvent.contact_id == contact.id, ConsentEvent.action == "opt_out")
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )
    on = contact.opted_out_at or (event.created_at if event else None)
    date = on.strftime("%Y-%m-%d") if on else "an unknown date"
    if event is None or event.source == "keyword":
        how = "replied STOP"
    elif event.source == "agent":
        how = f"opted out by {event.actor or 'an agent'}"
    else:
        how = f"opted out via {event.source}"
    return f"This contact opted out ({how}) on {date}; messages can't be sent."
