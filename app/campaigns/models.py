"""A campaign, its recipient rows and its per-sender pacing slots.

Every row of the audience (valid or not) is one `CampaignRecipient`, so the campaign's buckets
add up to its total: rows set aside at creation keep their reason in `outcome`
(`skipped_invalid`, `skipped_duplicate`, `skipped_opted_out`). A row handed to the worker is
`queued` with its `message_id`; from then on its bucket follows the message's status.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import JSONType, UTCDateTime, utcnow

STATUSES = ("scheduled", "running", "paused", "completed", "cancelled")
# Values of CampaignRecipient.outcome; "queued" means "a message exists" (see service.bucket).
OUTCOMES = (
    "pending",
    "queued",
    "skipped_opted_out",
    "skipped_invalid",
    "skipped_duplicate",
    "cancelled",
)
BUCKETS = (
    "pending",
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "skipped_opted_out",
    "skipped_invalid",
    "skipped_duplicate",
    "cancelled",
)
# Buckets whose recipients are finished with (a progress bar's value): all but the first two.
FINISHED = BUCKETS[2:]


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    from_numbers: Mapped[list] = mapped_column(JSONType, default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    media_urls: Mapped[list] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(12), default="scheduled", index=True)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    # The first rows set aside at creation, with their row numbers and reasons (shown in the answer).
    rejected: Mapped[list] = mapped_column(JSONType, default=list)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CampaignRecipient(db.Model):
    """One audience row. `not_before`: the dispatcher looks at it again no earlier (quiet hours)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        Index("ix_campaign_recipients_due", "campaign_id", "outcome", "not_before"),
        Index("ix_campaign_recipients_phone", "campaign_id", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer, default=0)
    phone: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    fields: Mapped[dict | None] = mapped_column(JSONType)
    from_number: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CampaignSender(db.Model):
    """The pace of one sender number in one campaign: the next free send slot.

    Shared by every worker through the database (the row is updated under the campaign's row
    lock), so two workers together keep `rate_per_minute`, one slot every 60/rate seconds.
    """

    __tablename__ = "campaign_senders"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    from_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
