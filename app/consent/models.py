"""Consent: extra keywords added by the admin and the log of every opt-out and opt-in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.conversations.models import Contact
from app.extensions import db
from app.types import UTCDateTime, utcnow


class ConsentKeyword(db.Model):
    __tablename__ = "consent_keywords"
    __table_args__ = (UniqueConstraint("keyword"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    keyword: Mapped[str] = mapped_column(String(60))  # stored normalised
    kind: Mapped[str] = mapped_column(String(8))  # opt_out | opt_in | help
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsentEvent(db.Model):
    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # opt_out | opt_in
    source: Mapped[str] = mapped_column(String(10))  # keyword | agent | api | import
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    message_body: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    contact: Mapped[Contact] = relationship(lazy="joined")
