"""After an attempt whose outcome is unknown (a timeout, a lost connection, a worker killed
mid-send), find out from the provider whether the message went through, instead of sending it
twice.

Two rules make this exactly once without a horizon and without a race:

- Read back page after page (newest first) until the provider's messages are older than our
  first attempt, however many pages that takes: 1,500 newer messages to the same number do not
  hide ours.
- Claim a candidate under its provider id's lock (the advisory lock the status webhook and the
  send path take too) and look again, inside that lock, whether another of our messages has
  linked it meanwhile; if so take the next candidate at once. Two workers reconciling identical
  messages therefore never link the same record, and neither waits out a lease.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.conversations.models import Message
from app.dbutil import lock_key
from app.extensions import db
from app.telefonie.client import Client
from app.telefonie.schema import parse_time

CLOCK_SKEW = timedelta(seconds=30)
PAGE_SIZE = 100


def candidates(client: Client, message: Message) -> list[dict]:
    """The provider's messages that could be this one's earlier attempt, oldest first.

    A candidate has the same from, to and body and was created after our first attempt (less
    clock skew). Reading stops at the first page that reaches back past that time.
    """
    since = (message.first_attempt_at or message.date_created) - CLOCK_SKEW
    found: dict[str, dict] = {}
    page = 1
    while True:
        result = client.list(
            direction="outbound",
            from_=message.from_number,
            to=message.to_number,
            page=page,
            page_size=PAGE_SIZE,
        )
        reached_back = False
        for item in result.messages:
            created = parse_time(item.get("date_created"))
            if created is not None and created < since:
                reached_back = True
            elif (item.get("body") or "") == (message.body or "") and item.get("id"):
                found[str(item["id"])] = item  # a record shifted by newer sends may repeat
        if reached_back or len(result.messages) < PAGE_SIZE:
            break
        page += 1
    return sorted(found.values(), key=lambda c: (c.get("date_created") or "", str(c["id"])))


def claim(options: list[dict]) -> dict | None:
    """The oldest candidate no other message of ours has linked; its lock is held until commit.

    Locks are taken oldest first, the same order in every worker, so two claimers never deadlock.
    """
    if not options:
        return None
    ids = [str(c["id"]) for c in options]
    linked = set(db.session.scalars(select(Message.provider_id).where(Message.provider_id.in_(ids))))
    for option in options:
        provider_id = str(option["id"])
        if provider_id in linked:
            continue
        lock_key(provider_id)
        # Look again inside the lock: a claimer that held it before us has committed by now.
        if db.session.scalar(select(Message.id).where(Message.provider_id == provider_id)) is None:
            return option
    return None
