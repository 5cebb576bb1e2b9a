"""Issue 11, finding 2: hard limits on every reply render, enforced by the sandbox itself.

Each template below cost hundreds of megabytes or seconds before; now each stops inside 100 ms
and 20 MB with a ReplyTemplateError that says which limit it hit.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from app.rules import limits
from app.rules.limits import MAX_TOTAL, MAX_VALUE, weight
from app.rules.templates import MAX_REPLY, ReplyTemplateError, compile_reply, render_reply

CONTEXT = {
    "contact": {"name": "Ana", "phone": "+12025550123"},
    "message": {"body": "x" * 5000, "from": "+12025550123", "to": "+12025550100"},
    "brand": "Acme",
}

HOSTILE = [
    "{{ 'x'.encode().ljust(300000000)|length }}",
    "{{ 'x'.encode().rjust(300000000)|length }}",
    "{{ 'x'.encode().zfill(300000000)|length }}",
    "{{ dict.fromkeys(range(1000), dict.fromkeys(range(1000), 'x' * 100)) }}",
    "{{ dict.fromkeys(range(1000), dict.fromkeys(range(1000), dict.fromkeys(range(1000), 'x'))) }}",
    "{% set a = [message.body] * 2 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
    "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{% set d = [c, c, c, c, c, c, c, c, c, c] %}{{ d|length }}",
    "{% set a = {'k': message.body} %}{% set b = {'a': a, 'b': a, 'c': a} %}"
    "{% set c = {'a': b, 'b': b} %}{{ c }}",
    "{% set a = (message.body, message.body) %}{% set b = (a, a, a, a) %}{{ (b, b, b)|length }}",
    "{{ ('x' * 9000).translate({120: 'y' * 9000})|length }}",
    "{{ ('x' * 9000).encode().hex()|length }}",
    "{% for i in range(1000) %}{% set s = message.body ~ message.body %}{% endfor %}ok",
    "{% for i in range(1000) %}{% for j in range(10) %}{% set s = [message.body] %}{% endfor %}{% endfor %}",
    "{{ range(1000)|map('string')|map('center', 100000)|list }}",
    "{{ (message.body|list) * 2 }}",
    "{{ message.body|urlencode|urlencode|urlencode }}",
    "{{ (('<' * 5000)|e|e|e)|length }}",
    "{{ dict(a=message.body, b=message.body, c=message.body) }}",
    "{{ (10 ** 1000).to_bytes(100000000, 'big')|length }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{{ message.body|upper|lower }}"
    "{% endfor %}{% endfor %}",
]


def _render(template: str) -> str:
    try:
        return render_reply(template, CONTEXT)
    except ReplyTemplateError as exc:
        assert exc.limit or "not available" in str(exc) or "No filter named" in str(exc), str(exc)
        return ""


@pytest.mark.parametrize("template", HOSTILE)
def test_no_render_over_100_ms_or_20_mb(template: str) -> None:
    compile_reply(template)  # compiled once per template and cached; the render is what is bounded
    started = time.thread_time()  # CPU time, so a busy test machine does not fail the test
    out = _render(template)
    assert time.thread_time() - started < 0.1
    assert len(out) <= MAX_REPLY
    tracemalloc.start()  # measured apart: tracing slows the render down several times
    try:
        _render(template)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, peak


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ 'x'.encode().ljust(300000000)|length }}", "'ljust' of bytes is not available"),
        ("{{ (7).to_bytes(300000000, 'big')|length }}", "numbers passed to functions"),
        ("{{ dict.fromkeys(range(1000), 'x' * 100)|length }}", f"limited to {MAX_VALUE}"),
        ("{% for i in range(100) %}{% set s = message.body ~ message.body %}{% endfor %}", str(MAX_TOTAL)),
        ("{{ ('ab').translate({97: 'x'}) }}", "'translate' of str is not available"),
        ("{{ ''.__class__ }}", "'__class__' of str is not available"),
        ("{{ range }}", "prints a function"),
        ("{{ message.body.upper }}", "prints a builtin_function_or_method"),
        ("{{ self }}", "'self' is not available"),
    ],
)
def test_a_limit_says_which(template: str, reason: str) -> None:
    with pytest.raises(ReplyTemplateError, match=reason.replace("(", r"\(")):
        render_reply(template, CONTEXT)


@pytest.mark.parametrize(
    "template",
    ["{{ contact.name }}", "{{ brand|upper }}", "{{ message['body'] }}", "{{ 1 + 2 }}", "{{ [brand] }}"],
)
def test_the_deadline_is_checked_outside_loops(monkeypatch, template: str) -> None:
    """Lookups, filters, operators and literals all check the clock, not only loops."""
    monkeypatch.setattr(limits, "MAX_SECONDS", -1.0)
    with pytest.raises(ReplyTemplateError, match="ms to render"):
        render_reply(template, CONTEXT)


def test_weight_counts_shared_references_and_stops_early() -> None:
    inner = ["x" * 100] * 100
    assert weight([inner] * 100) > MAX_VALUE
    started = time.perf_counter()
    big = [inner] * 1000
    assert weight([big] * 1000) > MAX_VALUE
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{ contact.name }}, we got: {{ message.body[:10] }}", "Hi Ana, we got: xxxxxxxxxx"),
        ("{{ [1, 2, 3]|sum }} {{ {'a': 1}['a'] }} {{ (1, 2)|first }}", "6 1 1"),
        ("{% for w in 'a b c'.split() %}{{ w|upper }}{% endfor %}", "ABC"),
        ("{{ message.body|length }} {{ (message.body ~ message.body)|length }}", "5000 10000"),
        ("{{ dict.fromkeys(range(3), 0) }}", "{0: 0, 1: 0, 2: 0}"),
        (
            "Order #{{ 'A' ~ 1234567 }} {{ [1234567] }} {{ (1234567, 2) }}",
            "Order #A1234567 [1234567] (1234567, 2)",
        ),
    ],
)
def test_ordinary_templates_still_work(template: str, expected: str) -> None:
    assert render_reply(template, CONTEXT) == expected
