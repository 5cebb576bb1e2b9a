"""dispatch(): queue the campaign messages that are due, at each sender's pace, inside quiet hours.

Called by the delivery worker once a loop (about once a second), by any number of workers:

- A campaign is worked on by one worker at a time: its row is locked (`FOR UPDATE SKIP LOCKED` on
  PostgreSQL, so another worker moves on; on SQLite a first write takes the database's write
  lock). Everything below happens under that lock and is committed at once, so a worker killed
  midway leaves no trace and the next one starts from the same rows: each recipient gets at most
  one message, and the message row's own exactly-once delivery takes it from there.
- Pace is a slot table (`campaign_senders.next_slot_at`): each sender number has one send slot
  every 60 / rate_per_minute seconds. Messages are queued up to LOOKAHEAD seconds ahead with
  `next_attempt_at` set to their slot, so the worker sends them evenly across the minute, not in
  a burst each tick. An idle sender's slot never lies in the past (no catching up).
- Quiet hours: a recipient outside 08:00-21:00 local time (quiet_hours) stays pending with
  `not_before` set to their next window.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import or_, select, update

from app import settings
from app.campaigns import quiet_hours
from app.campaigns.models import Campaign, CampaignRecipient, CampaignSender
from app.campaigns.queueing import queue_batch
from app.conversations.models import Message
from app.conversations.service import QUEUE_CHANNEL
from app.dbutil import dialect, notify
from app.extensions import db
from app.types import utcnow

log = logging.getLogger("app.campaigns")
LOOKAHEAD = timedelta(seconds=2)
CHUNK = 200
MAX_SCAN = 2000  # recipient rows looked at per campaign per call, so one call stays short
R = CampaignRecipient


def _window() -> tuple[time, time]:
    """The window from the admin settings (quiet_end opens it, quiet_start closes it)."""
    values = settings.get_all()
    try:
        return time.fromisoformat(values["quiet_end"]), time.fromisoformat(values["quiet_start"])
    except (KeyError, ValueError):
        return quiet_hours.DEFAULT_START, quiet_hours.DEFAULT_END


def dispatch(now: datetime | None = None) -> int:
    """Queue what is due in every running campaign; the number of messages queued. Commits."""
    now = now or utcnow()
    db.session.execute(
        update(Campaign)
        .where(Campaign.status == "scheduled", Campaign.send_at <= now)
        .values(status="running", updated_at=now)
    )
    db.session.commit()
    ids = list(
        db.session.scalars(select(Campaign.id).where(Campaign.status == "running").order_by(Campaign.id))
    )
    db.session.rollback()
    window = _window()
    queued = 0
    for campaign_id in ids:
        try:
            queued += _dispatch_campaign(campaign_id, now, window)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("dispatch of campaign %s failed", campaign_id)
    return queued


def _lock(campaign_id: int) -> Campaign | None:
    if dialect() != "postgresql":
        db.session.execute(update(Campaign).where(Campaign.id == campaign_id).values(id=Campaign.id))
    query = select(Campaign).where(Campaign.id == campaign_id, Campaign.status == "running")
    if dialect() == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.scalar(query)


class _Slots:
    """The free send slots of each sender number until now + LOOKAHEAD."""

    def __init__(self, campaign: Campaign, now: datetime) -> None:
        self.interval = timedelta(seconds=60 / campaign.rate_per_minute)
        self.horizon = now + LOOKAHEAD
        self.rows = {
            s.from_number: s
            for s in db.session.scalars(
                select(CampaignSender).where(CampaignSender.campaign_id == campaign.id)
            )
        }
        self.next = {n: max(s.next_slot_at or now, now) for n, s in self.rows.items()}

    def open_senders(self) -> list[str]:
        return [n for n, at in self.next.items() if at < self.horizon]

    def capacity(self, number: str) -> int:
        """How many slots this number has before the horizon."""
        at = self.next.get(number)
        if at is None or at >= self.horizon:
            return 0
        return int((self.horizon - at) / self.interval) + (1 if (self.horizon - at) % self.interval else 0)

    def take(self, number: str) -> datetime | None:
        at = self.next.get(number)
        if at is None or at >= self.horizon:
            return None
        self.next[number] = at + self.interval
        self.rows[number].next_slot_at = self.next[number]
        return at


def _dispatch_campaign(campaign_id: int, now: datetime, window: tuple[time, time]) -> int:
    campaign = _lock(campaign_id)
    if campaign is None:  # paused or cancelled meanwhile, or another worker has it
        return 0
    slots = _Slots(campaign, now)
    # Look at up to twice the free slots: an opted-out contact found in the batch takes no slot,
    # and a row beyond the slots stays pending for the next call.
    room = {number: 2 * slots.capacity(number) for number in slots.next}
    chosen: list[CampaignRecipient] = []
    scanned = last_id = 0
    while scanned < MAX_SCAN:
        senders = [number for number, free in room.items() if free > 0]
        if not senders:
            break
        batch = list(
            db.session.scalars(
                select(R)
                .where(
                    R.campaign_id == campaign.id,
                    R.outcome == "pending",
                    R.from_number.in_(senders),
                    or_(R.not_before.is_(None), R.not_before <= now),
                    R.id > last_id,
                )
                .order_by(R.id)
                .limit(CHUNK)
            )
        )
        if not batch:
            break
        for recipient in batch:
            scanned += 1
            last_id = recipient.id
            if room.get(recipient.from_number, 0) <= 0:
                continue
            if not quiet_hours.allowed(recipient.phone, now, *window):
                recipient.not_before = quiet_hours.next_allowed(recipient.phone, now, *window)
                continue
            room[recipient.from_number] -= 1
            chosen.append(recipient)
    queued = sum(
        queue_batch(campaign, chosen[i : i + CHUNK], slots.take, now) for i in range(0, len(chosen), CHUNK)
    )
    if queued:
        notify(QUEUE_CHANNEL)
    db.session.flush()
    _maybe_complete(campaign, now)
    return queued


def _maybe_complete(campaign: Campaign, now: datetime) -> None:
    """Completed once no recipient waits and no message of it waits to be handed to the provider."""
    waiting = db.session.scalar(
        select(R.id).where(R.campaign_id == campaign.id, R.outcome == "pending").limit(1)
    )
    if waiting is not None:
        return
    unsent = db.session.scalar(
        select(Message.id)
        .where(Message.campaign_id == campaign.id, Message.status == "queued", Message.provider_id.is_(None))
        .limit(1)
    )
    if unsent is None:
        campaign.status = "completed"
        campaign.updated_at = now
        log.info("campaign %s completed", campaign.id)
