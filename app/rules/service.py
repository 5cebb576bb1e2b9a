"""Rules in the inbound transaction: decide (pure), then the loop guard, the reply and the actions.

The compiled RuleIndex is cached per process and rebuilt at once in every process when a rule
changes (NOTIFY from a trigger, app/cachebus.py); without a live listener, within CACHE_SECONDS.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from app import cachebus, settings
from app.accounts.models import User
from app.conversations import tags
from app.conversations.inbound import StoredInbound
from app.conversations.models import Conversation, Message
from app.conversations.service import queue_outbound
from app.extensions import db
from app.rules.engine import NO_MATCH, Decision, Inbound, RuleIndex, RuleSpec, decide
from app.rules.models import Rule, RuleHit
from app.types import utcnow

CACHE_SECONDS = 2.0
log = logging.getLogger(__name__)
_cache: dict = {"at": 0.0, "index": None, "version": None, "gen": -1}


def rule_index(fresh: bool = False) -> RuleIndex:
    """The compiled index; every CACHE_SECONDS a cheap version check (count, last change) decides
    whether to rebuild, so 10,000 rules are not recompiled every two seconds."""
    now = time.monotonic()
    gen = cachebus.generation("rules")  # bumped at once by a change in any process (cachebus)
    recent = now - _cache["at"] <= cachebus.max_age(CACHE_SECONDS)
    if not fresh and _cache["index"] is not None and _cache["gen"] == gen and recent:
        return _cache["index"]
    version = tuple(db.session.execute(select(func.count(Rule.id), func.max(Rule.updated_at))).one())
    if fresh or _cache["index"] is None or version != _cache["version"] or _cache["gen"] != gen:
        rows = db.session.scalars(select(Rule).where(Rule.enabled.is_(True)))
        _cache["index"] = RuleIndex.build([RuleSpec.from_row(r) for r in rows])
        _cache["version"] = version
    _cache.update(at=now, gen=gen)
    return _cache["index"]


def invalidate_cache() -> None:
    _cache["index"] = None


def inbound_for(message: StoredInbound, at=None, *, need_first: bool = True) -> Inbound:
    """The pure engine's view of a message; the first-message count is made only when a rule needs it."""
    first = False
    if need_first:
        earlier = (
            select(Message.id)
            .where(Message.conversation_id == message.conversation_id, Message.direction == "inbound")
            .limit(2)
            .subquery()
        )
        first = db.session.scalar(select(func.count()).select_from(earlier)) <= 1
    return Inbound(
        body=message.body or "",
        from_number=message.from_number,
        to_number=message.to_number,
        first_in_conversation=first,
        at=at or message.date_created or utcnow(),
        contact_name=message.contact_name,
    )


def respond(message: StoredInbound) -> Decision:
    """Decide on one inbound message; queue the reply unless the loop guard holds it back."""
    index = rule_index()
    candidates = index.candidates(message.body or "")
    if not candidates:  # the common case: no query at all
        return NO_MATCH
    values = settings.get_all()
    need_first = any(index.rules[p].first_message_only for p in candidates)
    decision = decide(inbound_for(message, at=utcnow(), need_first=need_first), index, brand=values["brand"])
    if decision.rule is None:
        return decision
    if decision.error is not None:
        _reply_failed(decision)
    conversation = db.session.get(Conversation, message.conversation_id)
    if _loop_guard_holds(conversation, values):
        db.session.add(
            RuleHit(
                rule_id=decision.rule.id,
                conversation_id=conversation.id,
                message_id=message.id,
                sent=False,
                note="loop guard: too many auto-replies",
            )
        )
        return decision
    if decision.reply:
        queue_outbound(conversation, decision.reply, source="rule", cut_to_limit=True)
    db.session.add(
        RuleHit(
            rule_id=decision.rule.id,
            conversation_id=conversation.id,
            message_id=message.id,
            sent=bool(decision.reply),
            note=f"reply failed: {decision.error}"[:200] if decision.error else None,
        )
    )
    apply_actions(conversation, decision)
    return decision


def _reply_failed(decision: Decision) -> None:
    """A reply that failed to render (a limit, an error) fails the same way on the next message:
    the rule is disabled, with the reason kept for the admin and the API, instead of being
    rendered and failing on every message. A render cut short only by a busy machine's clock
    (`disable` False) is logged and left enabled."""
    rule = decision.rule
    log.warning("rule %s (%s): reply failed: %s", rule.id, rule.name, decision.error)
    if not decision.disable or rule.id is None:
        return
    db.session.execute(
        update(Rule)
        .where(Rule.id == rule.id)
        .values(enabled=False, disabled_reason=f"disabled automatically: {decision.error}"[:300])
        .execution_options(synchronize_session=False)
    )
    invalidate_cache()


def _loop_guard_holds(conversation: Conversation, values: dict[str, str]) -> bool:
    limit = int(values["loop_guard_max"])
    since = utcnow() - timedelta(minutes=int(values["loop_guard_minutes"]))
    sent = db.session.scalar(
        select(func.count()).where(
            RuleHit.conversation_id == conversation.id, RuleHit.sent.is_(True), RuleHit.created_at > since
        )
    )
    return sent >= limit


def apply_actions(conversation: Conversation, decision: Decision) -> None:
    if decision.tags:
        conversation.tags = tags.merge(conversation.tags or [], decision.tags)
    if decision.close:
        conversation.status = "closed"
    if decision.assign_to:
        user = db.session.scalar(select(User).where(User.email == decision.assign_to.lower()))
        if user is not None:
            conversation.assignee_id = user.id
