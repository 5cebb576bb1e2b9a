"""Auto-reply rules and the record of every time one matched."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import JSONType, UTCDateTime, utcnow


class Rule(db.Model):
    __tablename__ = "rules"
    # Names are unique compared case-folded (YAML import matches rules by name).
    __table_args__ = (Index("ix_rules_name_key", "name_key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    match: Mapped[str] = mapped_column(String(12), default="first_word")
    patterns: Mapped[list] = mapped_column(JSONType, default=list)
    number: Mapped[str | None] = mapped_column(String(20))
    schedule: Mapped[dict | None] = mapped_column(JSONType)
    first_message_only: Mapped[bool] = mapped_column(Boolean, default=False)
    reply: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSONType, default=list)
    close: Mapped[bool] = mapped_column(Boolean, default=False)
    assign_to: Mapped[str | None] = mapped_column(String(254))
    # Set when the service itself disabled the rule (its reply hit a render limit); cleared when
    # someone enables it again. Shown in the admin and in the API.
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RuleHit(db.Model):
    """A rule matched an inbound message; `sent` is False when the loop guard held it back."""

    __tablename__ = "rule_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    sent: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
