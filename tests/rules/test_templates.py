"""Reply templates: rendering, and hostile templates that must neither escape nor hang."""

from __future__ import annotations

import time

import pytest

from app.rules.templates import MAX_REPLY, ReplyTemplateError, compile_reply, render_reply

CONTEXT = {
    "contact": {"name": "Ana", "phone": "+12025550123"},
    "message": {"body": "hours?", "from": "+12025550123", "to": "+12025550100"},
    "brand": "Acme",
}
NAMELESS = {**CONTEXT, "contact": {"phone": "+12025550123"}}


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("Hi {{ contact.name }}!", CONTEXT, "Hi Ana!"),
        ("Hi {{ contact.name }}", NAMELESS, "Hi"),
        ("Hi {{ contact.name }}, we open at 9", NAMELESS, "Hi , we open at 9"),
        ("Hi {{ contact.name }} we open at 9", NAMELESS, "Hi we open at 9"),
        ("Hi {{ contact.name|default('there') }}", NAMELESS, "Hi there"),
        ("Hi {{ contact.name or 'there' }}", NAMELESS, "Hi there"),
        ("{{ brand }}: you wrote {{ message.body }}", CONTEXT, "Acme: you wrote hours?"),
        ("from {{ message.from }} to {{ message.to }}", CONTEXT, "from +12025550123 to +12025550100"),
        ("{{ message['from'] }}", CONTEXT, "+12025550123"),
        ("{{ contact.phone[-4:] }}", CONTEXT, "0123"),
        ("{{ contact.nickname }}|{{ contact.a.b.c }}|{{ nothing }}", CONTEXT, "||"),
        ("<b>{{ '<&>' }}</b>", CONTEXT, "<b><&></b>"),  # autoescape off: SMS is text
        ("{{ contact.name|upper }} & {{ brand|lower }}", CONTEXT, "ANA & acme"),
        ("{% if contact.name %}Hi {{ contact.name }}{% else %}Hello{% endif %}", NAMELESS, "Hello"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", CONTEXT, "012"),
        ("{{ 'a' ~ 'b' }} {{ 2 * 3 }} {{ 2 ** 10 }}", CONTEXT, "ab 6 1024"),
        ("  padded   text  ", CONTEXT, "padded text"),
        ("line one\nline two", CONTEXT, "line one\nline two"),
        ("", CONTEXT, ""),
    ],
)
def test_render(template: str, context: dict, expected: str) -> None:
    assert render_reply(template, context) == expected


def test_output_is_capped() -> None:
    assert len(render_reply("{{ 'x' * 5000 }}", CONTEXT)) == MAX_REPLY
    assert len(render_reply("{% for i in range(1000) %}abcdef{% endfor %}", CONTEXT)) == MAX_REPLY


def test_compiled_templates_are_cached() -> None:
    compile_reply.cache_clear()
    render_reply("Hi {{ contact.name }}", CONTEXT)
    render_reply("Hi {{ contact.name }}", NAMELESS)
    info = compile_reply.cache_info()
    assert (info.hits, info.misses) == (1, 1)


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ contact.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ request.application.__globals__ }}",
    "{{ ''.format.__globals__ }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ dict.mro() }}",
    "{{ config }}",
    "{{ _loop_guard }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{{ lipsum.__globals__ }}",
    "{{ namespace }}",
    "{{ contact.update({'name': 'x'}) }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_render_nothing_or_fail_cleanly(template: str) -> None:
    try:
        out = render_reply(template, CONTEXT)
    except ReplyTemplateError:
        return
    assert "class" not in out and "module" not in out and "built-in" not in out and "function" not in out


def test_mutation_is_refused() -> None:
    context = {"contact": {"name": "Ana"}, "message": {}, "brand": ""}
    with pytest.raises(ReplyTemplateError):
        render_reply("{{ contact.update({'name': 'x'}) }}", context)
    assert context["contact"]["name"] == "Ana"


HANGS = [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for i in range(10**9) %}{% endfor %}",
    "{{ range(10**9)|list }}",
    "{{ 10**10**10**10 }}",
    "{{ 99999999999 ** 99999999999 }}",
    "{{ 'a' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ ('a' * 9000) + ('a' * 9000) }}",
    "{% set s = 'a' * 9000 %}{% set s = s ~ s %}{% set s = s ~ s %}{{ s|length }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}"
    "{% endfor %}",
    "{% set r = range(1000) %}{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}"
    "{% endfor %}",
    "{% for a in 'x' * 9000 %}{% for b in 'x' * 9000 %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{% set x %}{% for i in range(1000) %}{{ 'y' * 9000 }}{% endfor %}{% endset %}",
    "{% filter upper %}{% for i in range(1000) %}{{ 'y' * 9000 }}{% endfor %}{% endfilter %}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'|indent(10**9, true) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ [1]|batch(10**9, 0)|list }}",
    "{{ range(1000)|join('x' * 9000) }}",
    "{{ ('a' * 9000)|replace('a', 'aaaa') }}",
    "{{ [[1] * 5000] * 5000|sum(start=[]) }}",
    "{{ ([[1] * 5000] * 5000)|sum(start=[]) }}",
]


@pytest.mark.parametrize("template", HANGS)
def test_hostile_templates_do_not_hang(template: str) -> None:
    started = time.perf_counter()
    try:
        out = render_reply(template, CONTEXT)
    except ReplyTemplateError:
        out = ""
    assert time.perf_counter() - started < 1.0
    assert len(out) <= MAX_REPLY


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% for i in range(10**9) %}x{% endfor %}", "range() is limited to 1000"),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "at most 10000 times",
        ),
        ("{{ 'a' * 10**9 }}", "limited to 10000"),
        ("{% macro f() %}{% endmacro %}", "macros are not available"),
        ("{% for x in [1] recursive %}{% endfor %}", "recursive loops"),
        ("{% set x %}y{% endset %}", "block set"),
        ("{% filter upper %}y{% endfilter %}", "filter blocks"),
        ("{% include 'x' %}", "include"),
        ("{{ _concat('a') }}", "names starting with _"),
        ("{{ 1 / 0 }}", "division by zero"),
        ("{{ '%s' % 1 }}", "%-formatting"),
        ("{{ 'x'|center(3) }}", "No filter named 'center'"),
        ("Hi {{ contact.name", "line 1"),
    ],
)
def test_refusals_say_why(template: str, message: str) -> None:
    with pytest.raises(ReplyTemplateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_reply(template, CONTEXT)


def test_loops_within_the_budget_are_fine() -> None:
    template = "{% for i in range(50) %}{% for j in range(50) %}{% endfor %}{% endfor %}done {{ 7 * 6 }}"
    assert render_reply(template, CONTEXT) == "done 42"


def test_budget_is_per_render() -> None:
    template = "{% for i in range(1000) %}{% for j in range(9) %}{% endfor %}{% endfor %}ok"
    for _ in range(3):
        assert render_reply(template, CONTEXT) == "ok"
