"""The sender pool: which of our numbers sends to which recipient (Twilio Messaging Service rules).

1. Sticky sender: a recipient who already has a thread with a pool number gets it from that
   number (the most recently active thread when several).
2. Area code: otherwise a pool number with the recipient's area code (NANP: the three digits
   after +1; elsewhere the geographic area code phonenumbers knows for the pool number).
3. Otherwise the pool in turn (round robin in audience order).

Decided once, when the campaign is created, so the pace per sender number can be kept exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from sqlalchemy import select

from app.campaigns.audience import Row
from app.conversations.models import Contact, Conversation
from app.extensions import db


def area_prefix(number: str) -> str | None:
    """'+1212' for a New York number; None when the number has no geographic area code."""
    if number.startswith("+1") and len(number) == 12:
        return number[:5]
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    length = phonenumbers.length_of_geographical_area_code(parsed)
    if not length:
        return None
    national = phonenumbers.national_significant_number(parsed)
    return f"+{parsed.country_code}{national[:length]}"


def sticky_senders(pool: list[str]) -> dict[str, str]:
    """Recipient phone -> the pool number of their most recent thread with the pool."""
    query = (
        select(Contact.phone, Conversation.our_number)
        .join(Conversation, Conversation.contact_id == Contact.id)
        .where(Conversation.our_number.in_(pool))
        .order_by(Conversation.last_message_at, Conversation.id)
    )
    return {phone: ours for phone, ours in db.session.execute(query.execution_options(yield_per=5000))}


def assign(pool: list[str], rows: Iterable[Row]) -> None:
    """Set `from_number` on every deliverable row."""
    rows = [r for r in rows if r.outcome == "pending"]
    if len(pool) == 1:
        for row in rows:
            row.from_number = pool[0]
        return
    sticky = sticky_senders(pool)
    by_area: dict[str, str] = {}
    for number in pool:
        prefix = area_prefix(number)
        if prefix:
            by_area.setdefault(prefix, number)
    lengths = sorted({len(p) for p in by_area}, reverse=True)
    turn = 0
    for row in rows:
        chosen = sticky.get(row.phone)
        if chosen is None:
            for length in lengths:
                chosen = by_area.get(row.phone[:length])
                if chosen:
                    break
        if chosen is None:
            chosen = pool[turn % len(pool)]
            turn += 1
        row.from_number = chosen
