"""Creating, changing and trying rules; shared by the API, the admin and YAML import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import settings
from app.consent.keywords import classify
from app.consent.service import CONFIRMATION, keyword_set
from app.conversations import tags
from app.conversations.models import Contact, Conversation
from app.extensions import db
from app.rules import service
from app.rules.engine import Inbound, decide
from app.rules.models import Rule
from app.rules.validation import FIELDS, MAX_INDEX_PROGRAM, RuleError, regex_cost, validate_rule


def rule_json(rule: Rule) -> dict[str, Any]:
    """The contract's rule object, plus `disabled_reason` (read-only: why the service disabled it)."""
    return {"id": rule.id, **{f: getattr(rule, f) for f in FIELDS}, "disabled_reason": rule.disabled_reason}


def list_rules():
    return db.session.scalars(select(Rule).order_by(Rule.priority, Rule.id))


class DuplicateName(RuleError):
    """Another rule has this name (compared case-folded): the API answers 409, the desk says so."""

    def __init__(self, name: str) -> None:
        super().__init__("name", f"a rule named {name!r} exists already; rule names must be unique")


def name_key(name: str) -> str:
    """Rule names are compared like tags: trimmed, NFKC, case folded (ix_rules_name_key)."""
    return tags.key(name)[:200]


def create_rule(data: dict[str, Any]) -> Rule:
    values = validate_rule(data)
    _check_index_cost(values, None)
    rule = Rule(**values, disabled_reason=None)
    _save(rule)
    return rule


def update_rule(rule: Rule, data: dict[str, Any], *, partial: bool = False) -> Rule:
    """PUT replaces every field (missing optional ones take defaults); partial merges.

    Disabling or reordering (a partial change of `enabled` to false and/or `priority`) checks only
    those fields, so a rule saved before today's checks can still be switched off or moved; every
    other change, enabling included, validates the whole merged rule."""
    if partial and set(data) <= {"enabled", "priority"} and data.get("enabled") is not True:
        values = validate_rule(data, partial=True)
    else:
        merged = {**{f: getattr(rule, f) for f in FIELDS}, **data} if partial else data
        values = validate_rule(merged)
        _check_index_cost(values, rule.id)
    for key, value in values.items():
        setattr(rule, key, value)
    if rule.enabled:
        rule.disabled_reason = None
    _save(rule)
    return rule


def _check_index_cost(values: dict[str, Any], rule_id: int | None) -> None:
    """Every enabled regex rule is searched for every message: their programs together are
    bounded (MAX_INDEX_PROGRAM), so one more rule cannot make every inbound webhook slow."""
    if values.get("match") != "regex" or not values.get("enabled", True):
        return
    query = select(Rule.patterns).where(Rule.match == "regex", Rule.enabled.is_(True))
    if rule_id is not None:
        query = query.where(Rule.id != rule_id)
    others = sum(regex_cost(list(patterns or [])) for patterns in db.session.scalars(query))
    total = others + regex_cost(values["patterns"])
    if total > MAX_INDEX_PROGRAM:
        raise RuleError(
            "patterns",
            f"the enabled regex rules together would compile to {total} RE2 instructions; the limit "
            f"is {MAX_INDEX_PROGRAM} ({others} are used by other rules)",
        )


def _save(rule: Rule) -> None:
    """Name key and canonical tag spellings, then flush; a name clash is DuplicateName, also when
    a concurrent writer wins the race (the unique index answers; a savepoint keeps the session)."""
    rule.name_key = name_key(rule.name)
    clash = select(Rule.id).where(Rule.name_key == rule.name_key)
    if rule.id is not None:
        clash = clash.where(Rule.id != rule.id)
    with db.session.no_autoflush:
        taken = db.session.scalar(clash.limit(1)) is not None
    if taken:
        raise DuplicateName(rule.name)
    rule.tags = tags.canonical(rule.tags or [])
    db.session.add(rule)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise DuplicateName(rule.name) from exc
    service.invalidate_cache()


def delete_rule(rule: Rule) -> None:
    db.session.delete(rule)
    db.session.flush()
    service.invalidate_cache()


def try_message(from_number: str, to_number: str, body: str, at: datetime) -> dict[str, Any]:
    """Which consent keyword or rule would answer, and the reply; sends and changes nothing."""
    contact = db.session.scalar(select(Contact).where(Contact.phone == from_number))
    opted_out = bool(contact and contact.opted_out)
    values = settings.get_all()
    consent = classify(body, keyword_set(), opted_out)
    if consent is not None:
        return {"consent": consent, "rule": None, "reply": settings.render(CONFIRMATION[consent], values)}
    first = True
    if contact is not None:
        conversation = db.session.scalar(
            select(Conversation).where(
                Conversation.contact_id == contact.id, Conversation.our_number == to_number
            )
        )
        first = conversation is None or conversation.last_message_preview is None
    if opted_out:
        return {"consent": None, "rule": None, "reply": None}
    message = Inbound(
        body=body,
        from_number=from_number,
        to_number=to_number,
        first_in_conversation=first,
        at=at,
        contact_name=contact.name if contact else None,
    )
    decision = decide(message, service.rule_index(fresh=True), brand=values["brand"])
    rule = {"id": decision.rule.id, "name": decision.rule.name} if decision.rule else None
    return {"consent": None, "rule": rule, "reply": decision.reply}
