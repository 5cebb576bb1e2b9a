"""Queue a batch of campaign recipients as outbound messages in a few statements, not a few per
recipient (RapidPro mailroom's broadcast batches): contacts and threads are created with
`INSERT … ON CONFLICT DO NOTHING` for the whole batch, messages inserted with one executemany
(RETURNING their ids), threads touched and recipient rows updated in bulk. Runs inside the
dispatcher's transaction, under the campaign's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, insert, select, tuple_, update

from app.campaigns import render
from app.campaigns.models import Campaign, CampaignRecipient
from app.conversations.models import Contact, Conversation, Message, new_sid
from app.dbutil import insert_ignore
from app.extensions import db
from app.rules.templates import ReplyTemplateError
from app.telefonie import segments

log = logging.getLogger("app.campaigns")
CONTACTS = Contact.__table__
CONVERSATIONS = Conversation.__table__
MESSAGES = Message.__table__


def _contacts(recipients: list[CampaignRecipient], now: datetime) -> dict[str, tuple]:
    """phone -> (id, name, opted_out), creating the missing contacts (with the list's name)."""
    phones = [r.phone for r in recipients]
    query = select(CONTACTS.c.phone, CONTACTS.c.id, CONTACTS.c.name, CONTACTS.c.opted_out).where(
        CONTACTS.c.phone.in_(phones)
    )
    found = {row.phone: (row.id, row.name, row.opted_out) for row in db.session.execute(query)}
    missing = [r for r in recipients if r.phone not in found]
    if missing:
        rows = {
            r.phone: {
                "phone": r.phone,
                "name": r.name,
                "opted_out": False,
                "created_at": now,
                "updated_at": now,
            }
            for r in missing
        }
        db.session.execute(insert_ignore(CONTACTS, ["phone"]), list(rows.values()))
        found.update({row.phone: (row.id, row.name, row.opted_out) for row in db.session.execute(query)})
    unnamed = [
        {"b_id": found[r.phone][0], "b_name": r.name} for r in recipients if r.name and not found[r.phone][1]
    ]
    if unnamed:
        db.session.execute(
            update(CONTACTS).where(CONTACTS.c.id == bindparam("b_id")).values(name=bindparam("b_name")),
            unnamed,
        )
    return found


def _conversations(pairs: set[tuple[str, int]], now: datetime) -> dict[tuple[str, int], int]:
    """(our number, contact id) -> conversation id, creating the missing threads."""
    key = tuple_(CONVERSATIONS.c.our_number, CONVERSATIONS.c.contact_id)
    query = select(CONVERSATIONS.c.id, CONVERSATIONS.c.our_number, CONVERSATIONS.c.contact_id).where(
        key.in_(list(pairs))
    )
    found = {(row.our_number, row.contact_id): row.id for row in db.session.execute(query)}
    missing = pairs - found.keys()
    if missing:
        db.session.execute(
            insert_ignore(CONVERSATIONS, ["our_number", "contact_id"]),
            [
                {
                    "our_number": ours,
                    "contact_id": contact_id,
                    "status": "open",
                    "flagged": False,
                    "tags": [],
                    "unread_count": 0,
                    "last_message_at": now,
                    "created_at": now,
                    "campaign_only": True,  # out of the support inbox until the recipient replies
                }
                for ours, contact_id in sorted(missing)
            ],
        )
        found.update({(row.our_number, row.contact_id): row.id for row in db.session.execute(query)})
    return found


def queue_batch(
    campaign: Campaign,
    recipients: list[CampaignRecipient],
    take_slot: Callable[[str], datetime | None],
    now: datetime,
) -> int:
    """Queue one message per recipient in its sender's next slot; skip opted-out contacts (and a
    body that fails to render or is too long, which creation already refused). The count queued."""
    if not recipients:
        return 0
    contacts = _contacts(recipients, now)
    ready: list[tuple[CampaignRecipient, str, segments.SegmentInfo, datetime]] = []
    for recipient in recipients:
        contact_id, contact_name, opted_out = contacts[recipient.phone]
        if opted_out:
            recipient.outcome = "skipped_opted_out"
            continue
        try:
            body = render.render(
                campaign.body, recipient.phone, recipient.name or contact_name, recipient.fields
            )
        except ReplyTemplateError as exc:
            log.warning("campaign %s: body failed for %s: %s", campaign.id, recipient.phone, exc)
            recipient.outcome = "skipped_invalid"
            continue
        info = segments.analyze(body)
        slot = take_slot(recipient.from_number) if info.num_segments <= segments.MAX_SEGMENTS else None
        if slot is None:
            recipient.outcome = "skipped_invalid" if info.num_segments > segments.MAX_SEGMENTS else "pending"
            continue
        ready.append((recipient, body, info, slot))
    if not ready:
        return 0
    threads = _conversations({(r.from_number, contacts[r.phone][0]) for r, *_ in ready}, now)
    media = list(campaign.media_urls or [])
    rows = [
        {
            "sid": new_sid(),
            "conversation_id": threads[(r.from_number, contacts[r.phone][0])],
            "direction": "outbound",
            "status": "queued",
            "from_number": r.from_number,
            "to_number": r.phone,
            "body": body,
            "media_urls": media,
            "encoding": info.encoding,
            "num_segments": info.num_segments,
            "source": "campaign",
            "date_created": now,
            "date_updated": now,
            "next_attempt_at": slot,
            "attempts": 0,
            "outcome_unknown": False,
            "campaign_id": campaign.id,
        }
        for r, body, info, slot in ready
    ]
    ids = list(
        db.session.scalars(insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True), rows)
    )
    db.session.execute(
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == bindparam("b_id"))
        .values(last_message_at=bindparam("b_at"), last_message_preview=bindparam("b_preview")),
        [
            {"b_id": row["conversation_id"], "b_at": now, "b_preview": (row["body"] or "[media]")[:160]}
            for row in {row["conversation_id"]: row for row in rows}.values()
        ],
    )
    for (recipient, _body, _info, slot), message_id in zip(ready, ids, strict=True):
        recipient.outcome = "queued"
        recipient.message_id = message_id
        recipient.queued_at = slot
    return len(ready)
