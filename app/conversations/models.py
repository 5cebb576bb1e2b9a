"""Contacts, conversations, messages and their receipts: the conversations model.

The messages table is also the outbound queue: a row is born `queued` and the delivery
worker claims it with a lease.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.types import JSONType, UTCDateTime, utcnow


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Conversation(db.Model):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("our_number", "contact_id"),
        Index("ix_conversations_activity", "last_message_at", "id"),
        # The inbox's default view (support threads) and its "Campaigns" filter: keyset on one range.
        Index("ix_conversations_inbox", "campaign_only", "last_message_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    our_number: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(String(200))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    tags: Mapped[list] = mapped_column(JSONType, default=list)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    # True while every message in the thread is a campaign message: kept out of the support inbox.
    campaign_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_message_preview: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    contact: Mapped[Contact] = relationship(lazy="joined")


DUE_WHERE = "status = 'queued' AND provider_id IS NULL AND direction = 'outbound'"


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_queue", "status", "next_attempt_at"),
        # the delivery worker's claim (app/delivery/claim.py), in its own order: the first due row
        # in one index step however many are queued (a 100,000-recipient campaign)
        Index(
            "ix_messages_due",
            "next_attempt_at",
            "id",
            postgresql_where=text(DUE_WHERE),
            sqlite_where=text(DUE_WHERE),
        ),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(40), unique=True, default=new_sid)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    status: Mapped[str] = mapped_column(String(12))
    from_number: Mapped[str] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    media_urls: Mapped[list] = mapped_column(JSONType, default=list)
    encoding: Mapped[str] = mapped_column(String(6), default="GSM-7")
    num_segments: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[str | None] = mapped_column(String(20))
    price_unit: Mapped[str | None] = mapped_column(String(8))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(500))
    validity_period: Mapped[int | None] = mapped_column(Integer)
    status_callback: Mapped[str | None] = mapped_column(String(2000))  # app.callbacks forwards here
    source: Mapped[str] = mapped_column(
        String(12), default="provider"
    )  # provider|api|agent|rule|consent|campaign
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    date_created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    date_sent: Mapped[datetime | None] = mapped_column(UTCDateTime())
    date_updated: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # delivery queue state (outbound only)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    send_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )

    conversation: Mapped[Conversation] = relationship()

    @property
    def num_media(self) -> int:
        return len(self.media_urls or [])


class Receipt(db.Model):
    """One status report from the provider; kept even when it did not change the message."""

    __tablename__ = "receipts"
    __table_args__ = (UniqueConstraint("provider_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64))  # the unique (provider_id, status) indexes it
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(500))
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
