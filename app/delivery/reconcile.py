"""After an attempt whose outcome is unknown (a timeout), find out from the provider whether
the message went through, using the list operation, instead of sending it twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.conversations.models import Message
from app.extensions import db
from app.telefonie.client import Client
from app.telefonie.schema import parse_time

CLOCK_SKEW = timedelta(seconds=30)
MAX_PAGES = 5


def find_sent(client: Client, message: Message) -> dict | None:
    """The provider's record of this message, or None when it never arrived there.

    A candidate has the same from, to and body, was created after our first attempt (less clock
    skew), and is not already linked to another of our messages. The oldest such one is ours.
    """
    since = (message.first_attempt_at or message.date_created) - CLOCK_SKEW
    candidates: list[dict] = []
    for page in range(1, MAX_PAGES + 1):
        result = client.list(
            direction="outbound", from_=message.from_number, to=message.to_number, page=page, page_size=100
        )
        for item in result.messages:
            created = parse_time(item.get("date_created"))
            if (item.get("body") or "") == (message.body or "") and (created is None or created >= since):
                candidates.append(item)
        if len(result.messages) < 100:
            break
    if not candidates:
        return None
    ids = [str(c.get("id")) for c in candidates]
    known = set(db.session.scalars(select(Message.provider_id).where(Message.provider_id.in_(ids))))
    fresh = [c for c in candidates if str(c.get("id")) not in known]
    fresh.sort(key=lambda c: c.get("date_created") or "")
    return fresh[0] if fresh else None
