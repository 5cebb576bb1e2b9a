"""A status to forward to a message's `status_callback`: one row per status change, written by a
database trigger in the same transaction as the change (migration 0005), so no code path that
moves a message's status (webhook, worker, sweeper) can forget it, and none is forwarded for a
change that was rolled back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime, utcnow


class CallbackForward(db.Model):
    __tablename__ = "callback_forwards"
    __table_args__ = (Index("ix_callback_forwards_due", "done", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    url: Mapped[str] = mapped_column(String(2000))
    done: Mapped[bool] = mapped_column(default=False)  # delivered, or given up (see last_error)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: due now
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
