"""A campaign and its recipients; each recipient is queued at most once (unique per campaign)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import JSONType, UTCDateTime, utcnow

STATUSES = ("running", "paused", "cancelled", "completed")
OUTCOMES = ("pending", "queued", "skipped_opted_out", "cancelled")


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    from_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    media_urls: Mapped[list] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(12), default="running", index=True)
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CampaignRecipient(db.Model):
    """`not_before`: the earliest time the dispatcher may try this recipient again (quiet hours)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        Index("ix_campaign_recipients_due", "campaign_id", "outcome", "not_before"),
        Index("ix_campaign_recipients_queued_at", "campaign_id", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
