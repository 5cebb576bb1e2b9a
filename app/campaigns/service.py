"""Campaigns: create, dispatch (called by the delivery worker about once a second), counts, transitions.

dispatch() queues each running campaign's recipients through conversations.service.queue_outbound
(source "campaign"), at most `rate_per_minute` in any rolling minute, never to an opted-out contact
(skipped and counted) and only inside the recipient's local window (quiet_hours); a recipient
outside it stays pending with `not_before` set to the next allowed time.

Two workers never queue one recipient twice: on PostgreSQL the campaign row and the recipient rows
are claimed with FOR UPDATE SKIP LOCKED (a campaign being dispatched by another worker is skipped);
on every database the recipient is claimed by a conditional UPDATE (outcome still 'pending').
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import func, insert, or_, select, update

from app import settings
from app.campaigns import quiet_hours
from app.campaigns.models import OUTCOMES, Campaign, CampaignRecipient
from app.consent.guard import OptedOut
from app.conversations.models import Message
from app.conversations.service import get_or_create_contact, get_or_create_conversation, queue_outbound
from app.dbutil import dialect
from app.events import log_event
from app.extensions import db
from app.types import utcnow

log = logging.getLogger("app.campaigns")

MESSAGE_STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")
BATCH = 500
TRANSITIONS = {
    "pause": ({"running"}, "paused"),
    "resume": ({"paused"}, "running"),
    "cancel": ({"running", "paused"}, "cancelled"),
}


class InvalidTransition(Exception):
    def __init__(self, campaign: Campaign, action: str) -> None:
        super().__init__(f"campaign {campaign.id} is {campaign.status}; it cannot {action}")


def create(
    name: str,
    from_number: str,
    body: str,
    media_urls: list[str] | None,
    recipients: list[str],
    rate_per_minute: int,
) -> Campaign:
    """A running campaign with one pending recipient per distinct number; the caller commits."""
    now = utcnow()
    campaign = Campaign(
        name=name,
        from_number=from_number,
        body=body or "",
        media_urls=list(media_urls or []),
        status="running",
        rate_per_minute=rate_per_minute,
        created_at=now,
        updated_at=now,
    )
    db.session.add(campaign)
    db.session.flush()
    log_event("campaign_state", campaign_id=campaign.id, status="running", action="create")
    phones = list(dict.fromkeys(recipients))
    if phones:
        db.session.execute(
            insert(CampaignRecipient),
            [{"campaign_id": campaign.id, "phone": phone, "outcome": "pending"} for phone in phones],
        )
    return campaign


def transition(campaign: Campaign, action: str) -> Campaign:
    """pause (running→paused), resume (paused→running), cancel (pending recipients → cancelled)."""
    allowed_from, target = TRANSITIONS[action]
    if dialect() == "postgresql":  # wait for a dispatcher working on this campaign
        db.session.refresh(campaign, with_for_update=True)
    if campaign.status not in allowed_from:
        raise InvalidTransition(campaign, action)
    campaign.status = target
    campaign.updated_at = utcnow()
    log_event("campaign_state", campaign_id=campaign.id, status=target, action=action)
    if action == "cancel":
        db.session.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.outcome == "pending")
            .values(outcome="cancelled"),
            execution_options={"synchronize_session": False},
        )
    db.session.flush()
    return campaign


def pause(campaign: Campaign) -> Campaign:
    return transition(campaign, "pause")


def resume(campaign: Campaign) -> Campaign:
    return transition(campaign, "resume")


def cancel(campaign: Campaign) -> Campaign:
    return transition(campaign, "cancel")


def counts(campaign: Campaign) -> dict:
    """Recipients by outcome, plus the statuses of the messages queued so far."""
    result: dict = {outcome: 0 for outcome in OUTCOMES}
    rows = db.session.execute(
        select(CampaignRecipient.outcome, func.count())
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.outcome)
    )
    for outcome, n in rows:
        result[outcome] = n
    result["total"] = sum(result[o] for o in OUTCOMES)
    messages: dict = {status: 0 for status in MESSAGE_STATUSES}
    rows = db.session.execute(
        select(Message.status, func.count())
        .join(CampaignRecipient, CampaignRecipient.message_id == Message.id)
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(Message.status)
    )
    for status, n in rows:
        messages[status] = messages.get(status, 0) + n
    result["messages"] = messages
    return result


def _window() -> tuple[time, time]:
    """The window from the admin settings (quiet_end opens it, quiet_start closes it)."""
    values = settings.get_all()
    try:
        return time.fromisoformat(values["quiet_end"]), time.fromisoformat(values["quiet_start"])
    except ValueError:
        return quiet_hours.DEFAULT_START, quiet_hours.DEFAULT_END


def dispatch(now: datetime | None = None) -> int:
    """Queue what is due in every running campaign; the number of messages queued. Commits."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(select(Campaign.id).where(Campaign.status == "running").order_by(Campaign.id))
    )
    db.session.rollback()
    start, end = _window()
    queued = 0
    for campaign_id in ids:
        try:
            queued += _dispatch_campaign(campaign_id, now, start, end)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("dispatch of campaign %s failed", campaign_id)
    return queued


def _dispatch_campaign(campaign_id: int, now: datetime, start: time, end: time) -> int:
    query = select(Campaign).where(Campaign.id == campaign_id, Campaign.status == "running")
    if dialect() == "postgresql":
        query = query.with_for_update(skip_locked=True)
    campaign = db.session.scalar(query)
    if campaign is None:  # paused or cancelled meanwhile, or another worker has it
        return 0
    used = db.session.scalar(
        select(func.count()).where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.queued_at > now - timedelta(seconds=60),
        )
    )
    budget = campaign.rate_per_minute - used
    queued = 0
    while budget > 0:
        due = (
            select(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.outcome == "pending",
                or_(CampaignRecipient.not_before.is_(None), CampaignRecipient.not_before <= now),
            )
            .order_by(CampaignRecipient.id)
            .limit(BATCH)
        )
        if dialect() == "postgresql":
            due = due.with_for_update(skip_locked=True)
        batch = list(db.session.scalars(due))
        if not batch:
            break
        for recipient in batch:
            if budget <= 0:
                break
            if _dispatch_recipient(campaign, recipient, now, start, end):
                queued += 1
                budget -= 1
    db.session.flush()
    pending = db.session.scalar(
        select(func.count()).where(
            CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.outcome == "pending"
        )
    )
    if pending == 0:
        campaign.status = "completed"
        campaign.updated_at = now
        log.info("campaign %s completed", campaign.id)
        log_event("campaign_state", campaign_id=campaign.id, status="completed", action="complete")
    return queued


def _dispatch_recipient(
    campaign: Campaign, recipient: CampaignRecipient, now: datetime, start: time, end: time
) -> bool:
    """True when a message was queued; otherwise the recipient is skipped or deferred."""
    if not quiet_hours.allowed(recipient.phone, now, start, end):
        recipient.not_before = quiet_hours.next_allowed(recipient.phone, now, start, end)
        return False
    claimed = db.session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id == recipient.id, CampaignRecipient.outcome == "pending")
        .values(outcome="queued", queued_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:  # another worker got it first (SQLite)
        db.session.expire(recipient)
        return False
    contact = get_or_create_contact(recipient.phone)
    conversation = get_or_create_conversation(campaign.from_number, contact)
    try:
        message = queue_outbound(
            conversation, campaign.body, media_urls=campaign.media_urls, source="campaign"
        )
    except OptedOut:
        db.session.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.id == recipient.id)
            .values(outcome="skipped_opted_out", queued_at=None),
            execution_options={"synchronize_session": False},
        )
        db.session.expire(recipient)
        return False
    db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.id == recipient.id).values(message_id=message.id),
        execution_options={"synchronize_session": False},
    )
    db.session.expire(recipient)
    return True
