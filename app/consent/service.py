"""Consent in the inbound transaction: STOP / START / HELP first, always, and the consent log.

Opting out cancels every queued message to the contact that has not reached the provider; the
confirmation is the one message an opted-out contact still gets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update

from app import cachebus, settings
from app.consent.keywords import KeywordSet, classify, reads_like_stop_wish
from app.consent.models import ConsentEvent, ConsentKeyword
from app.conversations.inbound import StoredInbound
from app.conversations.models import Contact, Conversation, Message
from app.conversations.service import queue_outbound
from app.events import log_event
from app.extensions import db
from app.types import utcnow

CONFIRMATION = {"opt_out": "stop_text", "opt_in": "start_text", "help": "help_text"}
_cache: dict = {"at": 0.0, "keywords": None, "gen": -1}
CACHE_SECONDS = 5.0  # without a live change listener (SQLite); see app/cachebus.py


@dataclass(frozen=True)
class Outcome:
    kind: str | None  # opt_out | opt_in | help | flagged | None
    handled: bool  # True: no rule may answer this message


def keyword_set(fresh: bool = False) -> KeywordSet:
    """The defaults plus the admin's extra keywords, cached for a few seconds per process."""
    now = time.monotonic()
    gen = cachebus.generation("consent_keywords")
    stale = _cache["gen"] != gen or now - _cache["at"] > cachebus.max_age(CACHE_SECONDS)
    if fresh or _cache["keywords"] is None or stale:
        rows = db.session.execute(select(ConsentKeyword.keyword, ConsentKeyword.kind)).all()
        _cache.update(at=now, keywords=KeywordSet.build([(k, kind) for k, kind in rows]), gen=gen)
    return _cache["keywords"]


def invalidate_cache() -> None:
    _cache["keywords"] = None


def apply(message: StoredInbound) -> Outcome:
    """Consent first, always. Rows are loaded only when there is something to do."""
    kind = classify(message.body or "", keyword_set(), message.opted_out)
    if kind is None and message.opted_out:
        return Outcome(None, True)
    if kind is None and not reads_like_stop_wish(message.body or ""):
        return Outcome(None, False)
    conversation = db.session.get(Conversation, message.conversation_id)
    contact = conversation.contact
    if kind == "opt_out":
        if opt_out(contact, source="keyword", message=message):
            _confirm(conversation, "opt_out")
        return Outcome("opt_out", True)
    if kind == "opt_in":
        opt_in(contact, source="keyword", message=message)
        _confirm(conversation, "opt_in")
        return Outcome("opt_in", True)
    if kind == "help":
        _confirm(conversation, "help")
        return Outcome("help", True)
    conversation.flagged = True
    conversation.flag_reason = "reads like a wish to stop messages"
    return Outcome("flagged", True)


def _confirm(conversation: Conversation, kind: str) -> Message:
    """The confirmation never fails the STOP it answers: a text too long (one saved before
    lengths were checked) is cut to the segment limit and the thread flagged."""
    return queue_outbound(
        conversation, settings.render(CONFIRMATION[kind]), source="consent", cut_to_limit=True
    )


def opt_out(
    contact: Contact,
    *,
    source: str,
    message: Message | StoredInbound | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> bool:
    """Opt the contact out and cancel what is queued for them; False when already opted out."""
    if contact.opted_out:
        return False
    now = utcnow()
    contact.opted_out = True
    contact.opted_out_at = now
    _log(contact, "opt_out", source, message, reason, actor)
    db.session.execute(
        update(Message)
        .where(
            Message.to_number == contact.phone,
            Message.direction == "outbound",
            Message.status == "queued",
            Message.provider_id.is_(None),
            Message.source != "consent",
        )
        .values(
            status="failed", error_code=21610, error_message="recipient opted out; not sent", date_updated=now
        )
        .execution_options(synchronize_session=False)
    )
    return True


def opt_in(
    contact: Contact,
    *,
    source: str,
    message: Message | StoredInbound | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> bool:
    if not contact.opted_out:
        return False
    contact.opted_out = False
    contact.opted_out_at = None
    _log(contact, "opt_in", source, message, reason, actor)
    return True


def _log(
    contact: Contact,
    action: str,
    source: str,
    message: Message | StoredInbound | None,
    reason: str | None,
    actor: str | None,
) -> None:
    log_event("consent_changed", contact_id=contact.id, action=action, source=source, actor=actor)
    db.session.add(
        ConsentEvent(
            contact_id=contact.id,
            action=action,
            source=source,
            reason=reason,
            actor=actor,
            message_id=message.id if message is not None else None,
            message_body=message.body if message is not None else None,
        )
    )
