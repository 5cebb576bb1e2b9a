"""The rules engine: which auto-reply rule answers an inbound message. Pure: no session, no HTTP.

LOWER PRIORITY NUMBER WINS: priority 1 beats 10; ties go to the lower rule id. At most one rule
answers a message. Consent keywords are not handled here: the caller deals with STOP/START/HELP
first and only asks the engine about ordinary messages.

Matching (all case-insensitive):

- `exact`: the whole message, normalised as consent keywords are (`app.consent.keywords.normalize`),
  equals a normalised pattern. One dictionary lookup.
- `first_word`: the message's first word, normalised, equals a pattern. One dictionary lookup.
- `contains`: the pattern (NFKC, case-folded, whitespace collapsed) is a substring of the message
  folded the same way. A plain loop of `in` tests: they run in C, rules of this kind are few,
  and a loop keeps "which rule matched" trivial (one combined RE2 would need a set match).
- `regex`: RE2 `search` (case-insensitive, linear time, no backtracking) over the NFKC message;
  anchor with `^...$` to match the whole message. One loop over the regex rules.

So the time per message does not grow with the number of exact and first-word rules; only contains
and regex rules are a loop. Rules are sorted by (priority, id) once when the index is built; the
winner is the first candidate, in that order, whose scope (`number`), `first_message_only` and
schedule all allow it.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import re2

from app.consent.keywords import first_word, fold, normalize
from app.rules.schedule import applies
from app.rules.templates import ReplyTemplateError, compile_reply_uncached, render_reply
from app.rules.validation import MAX_INDEX_PROGRAM, MAX_PROGRAM_SIZE, regex_options


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the engine sees it: read once from a model row (or a dict) and never changed."""

    id: int | None
    name: str
    priority: int
    match: str
    patterns: tuple[str, ...]
    number: str | None = None
    schedule: dict | None = field(default=None, hash=False)
    first_message_only: bool = False
    reply: str = ""
    tags: tuple[str, ...] = ()
    close: bool = False
    assign_to: str | None = None
    enabled: bool = True

    @functools.cached_property
    def compiled_reply(self) -> Any:
        """The reply compiled once for as long as this rule is in the index (a change to the
        rules builds a new index). ReplyTemplateError when it does not compile: not kept."""
        return compile_reply_uncached(self.reply)

    @classmethod
    def from_row(cls, obj: Any) -> RuleSpec:
        """From a `Rule` model row or a dict of the same fields (missing ones take the defaults)."""
        if isinstance(obj, Mapping):
            get = obj.get
        else:

            def get(name: str, default: Any = None) -> Any:
                return getattr(obj, name, default)

        def value(name: str, default: Any) -> Any:
            found = get(name, default)
            return default if found is None else found

        return cls(
            id=get("id"),
            name=value("name", ""),
            priority=value("priority", 100),
            match=value("match", "first_word"),
            patterns=tuple(value("patterns", ())),
            number=get("number"),
            schedule=get("schedule"),
            first_message_only=bool(value("first_message_only", False)),
            reply=value("reply", ""),
            tags=tuple(value("tags", ())),
            close=bool(value("close", False)),
            assign_to=get("assign_to"),
            enabled=bool(value("enabled", True)),
        )


@dataclass(frozen=True)
class Inbound:
    body: str
    from_number: str
    to_number: str
    first_in_conversation: bool
    at: datetime
    contact_name: str | None = None


@dataclass(frozen=True)
class Decision:
    """The rule that answers (or None), its rendered reply and its actions.

    `reply` is None when no rule matched, when the rule's reply is empty, or when its template
    failed to render; `error` then says why, for the caller to log (tags, close and assign still
    apply), and `disable` is True unless the failure was only a busy machine's clock: a template
    that fails once fails again, so the caller disables the rule rather than retry it per message.
    """

    rule: RuleSpec | None = None
    reply: str | None = None
    tags: tuple[str, ...] = ()
    close: bool = False
    assign_to: str | None = None
    error: str | None = None
    disable: bool = False


NO_MATCH = Decision()


@dataclass(frozen=True, eq=False)
class RuleIndex:
    """Enabled rules, sorted by (priority, id), with lookups by kind. Build once, use for many messages."""

    rules: tuple[RuleSpec, ...]
    exact: Mapping[str, tuple[int, ...]]
    first_word: Mapping[str, tuple[int, ...]]
    contains: tuple[tuple[str, int], ...]
    regex: tuple[tuple[Any, int], ...]
    invalid: tuple[tuple[RuleSpec, str], ...] = ()

    @classmethod
    def build(cls, specs: Iterable[RuleSpec]) -> RuleIndex:
        """Index the enabled rules. A stored regex RE2 refuses, or one over the program-size limits
        (saved before they existed), is left out and listed in `invalid` rather than slowing or
        breaking every other rule; the index's regex programs never total more than
        MAX_INDEX_PROGRAM instructions, in priority order."""
        ordered = sorted(
            (spec for spec in specs if spec.enabled),
            key=lambda spec: (spec.priority, sys.maxsize if spec.id is None else spec.id),
        )
        exact: dict[str, list[int]] = {}
        first: dict[str, list[int]] = {}
        contains: list[tuple[str, int]] = []
        regex: list[tuple[Any, int]] = []
        invalid: list[tuple[RuleSpec, str]] = []
        options = regex_options()
        program = 0
        for position, spec in enumerate(ordered):
            for pattern in spec.patterns:
                if spec.match == "exact":
                    _add(exact, normalize(pattern), position)
                elif spec.match == "first_word":
                    _add(first, normalize(pattern), position)
                elif spec.match == "contains":
                    if folded := fold(pattern):
                        contains.append((folded, position))
                elif spec.match == "regex":
                    try:
                        compiled = re2.compile(pattern, options)
                    except re2.error:
                        invalid.append((spec, pattern))
                        continue
                    program += compiled.programsize
                    if compiled.programsize > MAX_PROGRAM_SIZE or program > MAX_INDEX_PROGRAM:
                        invalid.append((spec, pattern))  # saved before the limits: left out
                        program -= compiled.programsize
                    else:
                        regex.append((compiled, position))
                else:
                    invalid.append((spec, pattern))
        return cls(
            rules=tuple(ordered),
            exact={key: tuple(positions) for key, positions in exact.items()},
            first_word={key: tuple(positions) for key, positions in first.items()},
            contains=tuple(contains),
            regex=tuple(regex),
            invalid=tuple(invalid),
        )

    def candidates(self, body: str) -> list[int]:
        """Positions (in priority order) of the rules whose patterns match the body."""
        normalized = normalize(body)
        found: set[int] = set()
        found.update(self.exact.get(normalized, ()))
        if normalized:
            found.update(self.first_word.get(first_word(normalized), ()))
        if self.contains:
            folded = fold(body)
            found.update(position for pattern, position in self.contains if pattern in folded)
        if self.regex:
            text = unicodedata.normalize("NFKC", body)
            found.update(position for pattern, position in self.regex if pattern.search(text))
        return sorted(found)


def _add(table: dict[str, list[int]], key: str, position: int) -> None:
    if key:
        positions = table.setdefault(key, [])
        if position not in positions:
            positions.append(position)


def _allowed(spec: RuleSpec, message: Inbound) -> bool:
    if spec.number is not None and spec.number != message.to_number:
        return False
    if spec.first_message_only and not message.first_in_conversation:
        return False
    return applies(spec.schedule, message.at)


def context_for(message: Inbound, brand: str = "") -> dict:
    """The template context; an unknown contact name is left out so it renders empty."""
    contact: dict[str, str] = {"phone": message.from_number}
    if message.contact_name:
        contact["name"] = message.contact_name
    return {
        "contact": contact,
        "message": {"body": message.body, "from": message.from_number, "to": message.to_number},
        "brand": brand,
    }


def decide(message: Inbound, index: RuleIndex, brand: str = "") -> Decision:
    """The first matching rule in priority order whose scope, first-message and schedule allow it."""
    for position in index.candidates(message.body):
        spec = index.rules[position]
        if _allowed(spec, message):
            return _decision(spec, message, brand)
    return NO_MATCH


def _decision(spec: RuleSpec, message: Inbound, brand: str) -> Decision:
    reply: str | None = None
    error: str | None = None
    disable = False
    if spec.reply:
        try:
            reply = render_reply(spec.reply, context_for(message, brand), spec.compiled_reply) or None
        except ReplyTemplateError as exc:
            error, disable = str(exc), not exc.transient
    return Decision(
        rule=spec,
        reply=reply,
        tags=spec.tags,
        close=spec.close,
        assign_to=spec.assign_to,
        error=error,
        disable=disable,
    )
