"""Issue 11, finding 3: RE2 patterns that are linear but slow. Program size is capped per pattern,
per rule and for the whole index, and a refusal says why."""

from __future__ import annotations

import time

from app.rules.engine import RuleIndex, RuleSpec
from app.rules.validation import MAX_INDEX_PROGRAM, MAX_PROGRAM_SIZE, MAX_RULE_PROGRAM, program_size

SLOW = r"\w{0,1000}\w{0,1000}b"
BODY = "a" * 5000


def heavy(letter: str) -> str:
    """A pattern just under the per-pattern limit (about 950 instructions)."""
    return f"[^{letter}]{{0,90}}{letter}"


def regex_rule(api, patterns: list[str], name: str = "r"):
    return api(
        "POST",
        "/api/v1/rules",
        json={"name": name, "match": "regex", "patterns": patterns, "reply": "hi"},
    )


def test_a_slow_pattern_is_refused_at_save_saying_why(api):
    resp = regex_rule(api, [SLOW])
    assert resp.status_code == 400
    message = resp.get_json()["error"]["message"]
    assert "RE2 instructions" in message and str(MAX_PROGRAM_SIZE) in message


def test_the_patterns_of_one_rule_are_bounded_together(api):
    patterns = [heavy(letter) for letter in "bcdefghij"]
    assert all(program_size(p) <= MAX_PROGRAM_SIZE for p in patterns)
    resp = regex_rule(api, patterns)
    assert resp.status_code == 400
    assert f"at most {MAX_RULE_PROGRAM}" in resp.get_json()["error"]["message"]


def test_all_regex_rules_together_are_bounded(api):
    patterns = [heavy(letter) for letter in "bcd"]
    created = 0
    while True:
        resp = regex_rule(api, patterns, name=f"r{created}")
        if resp.status_code != 201:
            break
        created += 1
        assert created < 50
    assert resp.status_code == 400
    assert f"the limit is {MAX_INDEX_PROGRAM}" in resp.get_json()["error"]["message"]
    assert created * program_size(patterns[0]) * 3 <= MAX_INDEX_PROGRAM
    disabled = api(
        "POST",
        "/api/v1/rules",
        json={"name": "off", "match": "regex", "patterns": patterns, "reply": "hi", "enabled": False},
    )
    assert disabled.status_code == 201  # a disabled rule costs nothing


def test_an_index_at_its_limit_matches_a_long_body_quickly():
    """Rules stored before the limits (50 slow patterns) are left out; what is kept stays fast."""
    old = RuleSpec(id=1, name="old", priority=1, match="regex", patterns=(SLOW,) * 50, reply="x")
    kept = [
        RuleSpec(id=i, name=f"r{i}", priority=i, match="regex", patterns=(heavy("b"), heavy("c"), heavy("d")))
        for i in range(2, 40)
    ]
    index = RuleIndex.build([old, *kept])
    assert any(spec.id == 1 for spec, _pattern in index.invalid)
    assert sum(pattern.programsize for pattern, _position in index.regex) <= MAX_INDEX_PROGRAM
    index.candidates(BODY)
    started = time.thread_time()
    index.candidates(BODY + "x")
    assert time.thread_time() - started < 0.1
