"""decide(): matching kinds, priority, scope, first message, schedules, rendering, speed."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from app.rules.engine import Decision, Inbound, RuleIndex, RuleSpec, decide

OURS = "+12025550100"
OTHER = "+12025550199"
CUSTOMER = "+12025550123"
WEDNESDAY_NOON_NY = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
SATURDAY_NOON_NY = datetime(2026, 3, 7, 17, 0, tzinfo=UTC)


def spec(id: int, match: str = "first_word", patterns: tuple[str, ...] = ("hours",), **fields) -> RuleSpec:
    values = {"name": f"rule {id}", "priority": 100, "reply": f"reply {id}"} | fields
    return RuleSpec(id=id, match=match, patterns=tuple(patterns), **values)


def inbound(body: str, **fields) -> Inbound:
    values = {
        "from_number": CUSTOMER,
        "to_number": OURS,
        "first_in_conversation": False,
        "at": WEDNESDAY_NOON_NY,
        "contact_name": None,
    } | fields
    return Inbound(body=body, **values)


def winner(body: str, *specs: RuleSpec, **fields) -> int | None:
    decision = decide(inbound(body, **fields), RuleIndex.build(specs))
    return decision.rule.id if decision.rule else None


MATCHING = [
    # (match, patterns, body, matches?)
    ("exact", ("hours",), "hours", True),
    ("exact", ("hours",), "HOURS", True),
    ("exact", ("hours",), "  Hours?! ", True),
    ("exact", ("HOURS",), "ｈｏｕｒｓ", True),
    ("exact", ("opening hours",), "Opening   Hours?", True),
    ("exact", ("hours",), "hours please", False),
    ("exact", ("hours",), "what are your hours", False),
    ("exact", ("hours",), "", False),
    ("first_word", ("hours",), "hours", True),
    ("first_word", ("HOURS",), "hours?", True),
    ("first_word", ("hours",), "Hours, please", True),
    ("first_word", ("hours",), "HOURS today?", True),
    ("first_word", ("hours",), "¿hours? sí", True),
    ("first_word", ("hours",), "what are your hours", False),
    ("first_word", ("hours",), "hourses", False),
    ("first_word", ("open", "hours"), "open today?", True),
    ("contains", ("hours",), "what are your HOURS today", True),
    ("contains", ("opening hours",), "your opening   hours?", True),
    ("contains", ("hours",), "office-hours", True),
    ("contains", ("hour",), "HOURS", True),  # a substring, not a word: use regex \b for words
    ("contains", ("hours",), "when do you open", False),
    ("contains", ("$5",), "is it $5?", True),
    ("regex", (r"^order\s+#?\d{4,}$",), "ORDER #12345", True),
    ("regex", (r"^order\s+#?\d{4,}$",), "order 12", False),
    ("regex", (r"\bhours?\b",), "what are your Hours", True),
    ("regex", (r"\bhours?\b",), "hourses", False),
    ("regex", (r"\d{3}",), "code １２３", True),  # NFKC: full-width digits
    ("regex", (r"^$",), "", True),
]


@pytest.mark.parametrize(("match", "patterns", "body", "matches"), MATCHING)
def test_match_kinds(match: str, patterns: tuple[str, ...], body: str, matches: bool) -> None:
    assert winner(body, spec(1, match, patterns)) == (1 if matches else None)


def test_lower_priority_number_wins() -> None:
    rules = [spec(1, priority=10), spec(2, priority=1), spec(3, priority=5)]
    assert winner("hours", *rules) == 2


def test_priority_ties_go_to_the_lower_id() -> None:
    assert winner("hours", spec(9, priority=5), spec(4, priority=5), spec(6, priority=5)) == 4


def test_priority_across_match_kinds() -> None:
    rules = [
        spec(1, "exact", ("hours",), priority=40),
        spec(2, "first_word", ("hours",), priority=30),
        spec(3, "contains", ("hour",), priority=20),
        spec(4, "regex", (r"hours",), priority=10),
    ]
    assert winner("hours", *rules) == 4
    assert winner("hours", *rules[:3]) == 3
    assert winner("hours", *rules[:2]) == 2
    assert winner("hours", *rules[:1]) == 1
    assert winner("hours please", *rules[:2]) == 2
    assert winner("my hours please", *rules[:2]) is None


def test_disabled_rules_are_ignored() -> None:
    rules = [spec(1, priority=1, enabled=False), spec(2, priority=50)]
    assert winner("hours", *rules) == 2
    assert winner("hours", rules[0]) is None
    assert RuleIndex.build(rules).rules == (rules[1],)


@pytest.mark.parametrize(
    ("number", "to_number", "matches"), [(None, OURS, True), (OURS, OURS, True), (OTHER, OURS, False)]
)
def test_scope_by_number(number: str | None, to_number: str, matches: bool) -> None:
    assert winner("hours", spec(1, number=number), to_number=to_number) == (1 if matches else None)


def test_scoped_rule_falls_through_to_the_next() -> None:
    rules = [spec(1, priority=1, number=OTHER), spec(2, priority=2, number=OURS), spec(3, priority=3)]
    assert winner("hours", *rules) == 2
    assert winner("hours", *rules, to_number=OTHER) == 1
    assert winner("hours", *rules, to_number="+12025550111") == 3


@pytest.mark.parametrize(("first", "expected"), [(True, 1), (False, 2)])
def test_first_message_only(first: bool, expected: int) -> None:
    rules = [spec(1, priority=1, first_message_only=True), spec(2, priority=2)]
    assert winner("hours", *rules, first_in_conversation=first) == expected


OFFICE = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "17:00",
    "timezone": "America/New_York",
    "when": "inside",
}


@pytest.mark.parametrize(
    ("when", "at", "expected"),
    [
        ("inside", WEDNESDAY_NOON_NY, 1),
        ("inside", SATURDAY_NOON_NY, 2),
        ("outside", WEDNESDAY_NOON_NY, 2),
        ("outside", SATURDAY_NOON_NY, 1),
    ],
)
def test_schedule(when: str, at: datetime, expected: int) -> None:
    rules = [spec(1, priority=1, schedule={**OFFICE, "when": when}), spec(2, priority=2)]
    assert winner("hours", *rules, at=at) == expected


def test_decision_carries_reply_and_actions() -> None:
    rule = spec(
        1,
        reply="Hi {{ contact.name }}! {{ brand }} opens at 9. (You wrote: {{ message.body }})",
        tags=("hours", "faq"),
        close=True,
        assign_to="agent@example.com",
    )
    decision = decide(inbound("hours?", contact_name="Ana"), RuleIndex.build([rule]), brand="Acme")
    assert decision == Decision(
        rule=rule,
        reply="Hi Ana! Acme opens at 9. (You wrote: hours?)",
        tags=("hours", "faq"),
        close=True,
        assign_to="agent@example.com",
    )


@pytest.mark.parametrize(
    ("name", "template", "expected"),
    [
        ("Ana", "Hi {{ contact.name }}", "Hi Ana"),
        (None, "Hi {{ contact.name }}", "Hi"),
        ("", "Hi {{ contact.name }} - see you", "Hi - see you"),
        (None, "Hi {{ contact.name|default('there') }}", "Hi there"),
        (None, "{{ message.from }} -> {{ message.to }}", f"{CUSTOMER} -> {OURS}"),
        (None, "Your number: {{ contact.phone }}", f"Your number: {CUSTOMER}"),
    ],
)
def test_template_rendering(name: str | None, template: str, expected: str) -> None:
    decision = decide(inbound("hours", contact_name=name), RuleIndex.build([spec(1, reply=template)]))
    assert decision.reply == expected


def test_no_match() -> None:
    assert decide(inbound("hello"), RuleIndex.build([spec(1)])) == Decision()
    assert decide(inbound("hello"), RuleIndex.build([])) == Decision()


def test_empty_reply_still_applies_actions() -> None:
    decision = decide(inbound("hours"), RuleIndex.build([spec(1, reply="", tags=("spam",), close=True)]))
    assert decision.rule is not None and decision.reply is None
    assert decision.tags == ("spam",) and decision.close is True


def test_a_broken_template_gives_no_reply_and_says_why() -> None:
    decision = decide(inbound("hours"), RuleIndex.build([spec(1, reply="{{ 1 / 0 }}", tags=("x",))]))
    assert decision.rule is not None and decision.reply is None and decision.tags == ("x",)
    assert "division by zero" in (decision.error or "")


def test_a_stored_invalid_regex_is_skipped_not_fatal() -> None:
    bad, good = spec(1, "regex", (r"(a)\1",), priority=1), spec(2, "regex", ("a",), priority=2)
    index = RuleIndex.build([bad, good])
    assert winner("a", bad, good) == 2
    assert index.invalid == ((bad, r"(a)\1"),)


def test_a_rule_matching_several_ways_is_one_candidate() -> None:
    index = RuleIndex.build([spec(1, "first_word", ("hours", "HOURS?", "Hours"))])
    assert index.candidates("hours") == [0]


def test_from_row_reads_model_rows_and_dicts() -> None:
    row = SimpleNamespace(
        id=7,
        name="Opening hours",
        enabled=True,
        priority=10,
        match="first_word",
        patterns=["HOURS", "OPEN"],
        number=None,
        schedule=dict(OFFICE),
        first_message_only=False,
        reply="We open at 9.",
        tags=["hours"],
        close=False,
        assign_to=None,
    )
    from_row = RuleSpec.from_row(row)
    assert from_row == RuleSpec(
        id=7,
        name="Opening hours",
        priority=10,
        match="first_word",
        patterns=("HOURS", "OPEN"),
        number=None,
        schedule=OFFICE,
        first_message_only=False,
        reply="We open at 9.",
        tags=("hours",),
        close=False,
        assign_to=None,
        enabled=True,
    )
    assert RuleSpec.from_row(vars(row)) == from_row
    assert hash(from_row) == hash(RuleSpec.from_row(vars(row)))
    minimal = RuleSpec.from_row({"name": "x", "patterns": ["a"], "reply": "r"})
    assert (minimal.id, minimal.priority, minimal.match, minimal.enabled, minimal.tags) == (
        None,
        100,
        "first_word",
        True,
        (),
    )


def test_unsaved_rules_sort_after_saved_ones_of_the_same_priority() -> None:
    draft = replace(spec(1), id=None)
    assert winner("hours", draft, spec(50)) == 50


def test_hostile_regex_is_linear_time() -> None:
    rule = spec(1, "regex", (r"(a+)+$",))
    index = RuleIndex.build([rule])
    started = time.perf_counter()
    decision = decide(inbound("a" * 30 + "b"), index)
    elapsed = time.perf_counter() - started
    assert decision.rule is None
    assert elapsed < 0.5
    assert decide(inbound("a" * 30), index).rule == rule


def _time_decides(index: RuleIndex, bodies: list[str]) -> float:
    started = time.perf_counter()
    for body in bodies:
        decide(inbound(body), index)
    return time.perf_counter() - started


def test_first_word_rules_are_a_dictionary_lookup() -> None:
    def build(count: int) -> RuleIndex:
        return RuleIndex.build([spec(i, "first_word", (f"word{i}",), reply="ok") for i in range(count)])

    small, large = build(10), build(10_000)
    bodies = [f"word{i % 10} please" if i % 2 else "nothing here" for i in range(2_000)]
    assert decide(inbound("word3 please"), large).rule.id == 3
    for index in (small, large):  # warm up caches (templates, zoneinfo) before timing
        _time_decides(index, bodies[:50])
    small_time = min(_time_decides(small, bodies) for _ in range(3))
    large_time = min(_time_decides(large, bodies) for _ in range(3))
    assert large_time / small_time < 3, (small_time, large_time)


def test_exact_rules_are_a_dictionary_lookup() -> None:
    def build(count: int) -> RuleIndex:
        return RuleIndex.build([spec(i, "exact", (f"phrase number {i}",)) for i in range(count)])

    small, large = build(10), build(10_000)
    bodies = [f"Phrase number {i % 10}!" for i in range(2_000)]
    small_time = min(_time_decides(small, bodies) for _ in range(3))
    large_time = min(_time_decides(large, bodies) for _ in range(3))
    assert large_time / small_time < 3, (small_time, large_time)


def test_each_rule_compiles_its_reply_once_however_many_rules_there_are(monkeypatch):
    """More rules with replies than compile_reply's shared cache holds (512) used to evict each
    other's compiled templates: every match compiled again (about 2 ms). A rule keeps its own."""
    from app.rules import engine, templates

    compiled: list[str] = []

    def counting(template: str):
        compiled.append(template)
        return templates.compile_reply_uncached(template)

    monkeypatch.setattr(engine, "compile_reply_uncached", counting)
    reply = "Thanks {{ contact.name }}, word "
    specs = [spec(i, patterns=(f"word{i}",), reply=f"{reply}{i}") for i in range(600)]
    index = RuleIndex.build(specs)
    for _ in range(2):
        for i in range(600):
            decision = decide(inbound(f"word{i} please", contact_name="Ada"), index)
            assert decision.reply == f"Thanks Ada, word {i}"
    assert len(compiled) == 600


def test_a_reply_that_does_not_compile_is_reported_each_time_and_not_kept():
    broken = spec(1, reply="{{ contact.name ")
    for _ in range(2):
        decision = decide(inbound("hours?"), RuleIndex.build([broken]))
        assert decision.reply is None and decision.error
    assert "compiled_reply" not in vars(broken)
