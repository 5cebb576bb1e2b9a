"""Rows as the API shows them: the seed's Message plus conversation_id, encoding and media."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.conversations.models import Contact, Conversation, Message


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def message_json(m: Message) -> dict[str, Any]:
    """Seed-schema fields; a field with no value is left out, as the schema has no nulls."""
    data = {
        "id": m.sid,
        "status": m.status,
        "direction": m.direction,
        "from": m.from_number,
        "to": m.to_number,
        "body": m.body,
        "num_segments": m.num_segments,
        "num_media": m.num_media,
        "media_url": list(m.media_urls or []),
        "price": m.price,
        "price_unit": m.price_unit,
        "date_created": iso(m.date_created),
        "date_sent": iso(m.date_sent),
        "date_updated": iso(m.date_updated),
        "error_code": m.error_code,
        "error_message": m.error_message,
        "conversation_id": m.conversation_id,
        "encoding": m.encoding,
        "validity_period": m.validity_period,
        "campaign_id": m.campaign_id,
    }
    return {k: v for k, v in data.items() if v is not None}


def contact_json(c: Contact) -> dict[str, Any]:
    return {
        "phone": c.phone,
        "name": c.name,
        "opted_out": c.opted_out,
        "opted_out_at": iso(c.opted_out_at),
        "created_at": iso(c.created_at),
    }


def conversation_json(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "our_number": c.our_number,
        "contact": contact_json(c.contact),
        "status": c.status,
        "flagged": c.flagged,
        "flag_reason": c.flag_reason,
        "assignee_id": c.assignee_id,
        "tags": list(c.tags or []),
        "unread_count": c.unread_count,
        "last_message_at": iso(c.last_message_at),
        "last_message_preview": c.last_message_preview,
        "created_at": iso(c.created_at),
    }
