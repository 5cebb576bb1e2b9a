"""Delivery's own state, shared by every worker process through the database.

- `delivery_circuit`: one row per provider. When the provider refuses connections, answers 5xx
  again and again, or answers 429, the circuit opens: no worker sends until one of them, holding
  the probe, has sent one message through. Rows wait instead of burning their attempts.
- `delivery_retries`: how many retries each cause has caused (the admin's "retries by cause").
- `delivery_status_checks`: when the sweeper last asked the provider about a message that has
  no final status, so it asks again only after another interval.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime, utcnow

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Circuit(db.Model):
    __tablename__ = "delivery_circuit"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default=CLOSED)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive, across all workers
    cooldown: Mapped[float] = mapped_column(Float, default=1.0)  # seconds until the next probe
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # open: a probe may start then
    probe_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # half open: the probe's lease
    last_error: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RetryCount(db.Model):
    __tablename__ = "delivery_retries"

    cause: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))


class StatusCheck(db.Model):
    __tablename__ = "delivery_status_checks"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    checks: Mapped[int] = mapped_column(Integer, default=0)
