"""Issue 9: a reply is rendered against a sample contact when saved; one that fails, renders empty,
reaches anything but plain values, or can be too long is refused with a 400 that says why, and
the desk's rule form shows the same message at the field."""

from __future__ import annotations

import pytest

from tests.admin import conftest as admin_fixtures

agent, desk = admin_fixtures.agent, admin_fixtures.desk


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("{{ config }}", "unknown name 'config'"),
        ("Hi {{ request }}", "unknown name 'request'"),
        ("{{ self }}", "'self' is not available"),
        ("{{ ''.__class__.__mro__ }}", "'__class__' of str is not available"),
        ("{{ contact.__class__ }}", "'__class__' of dict is not available"),
        ("{{ range }}", "prints a function"),
        ("Hi {{ message.body.upper }}", "prints a builtin_function_or_method"),
        ("{{ cycler(1, 2) }}", "prints a Cycler"),
        ("{% if message.body == 'never' %}hi{% endif %}", "renders empty"),
        ("{{ 1 / 0 }}", "division by zero"),
        ("{{ contact.update({'name': 'x'}) }}", "not available"),
        ("{{ brand }} " * 6 + "x" * 100, "segments long"),
        ("Hi {{ contact.name", "line 1"),
    ],
)
def test_unusable_replies_are_refused_with_the_reason(api, reply, reason):
    resp = api("POST", "/api/v1/rules", json={"name": "r", "patterns": ["HOURS"], "reply": reply})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert reason in resp.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "reply",
    [
        "Hi {{ contact.name }}, {{ brand }} opens at 9.",
        "{{ contact.nickname|default('Hi there') }}",
        "{% for w in message.body.split() %}{{ w|upper }} {% endfor %}",
        "Thanks, we got: {{ message.body }}",
        "{{ dict(a=1) }} {{ [1, 2] }} {{ 7 * 6 }}",
        "",  # no reply: the rule only tags, closes or assigns
    ],
)
def test_ordinary_replies_are_accepted(api, reply):
    resp = api("POST", "/api/v1/rules", json={"name": "r", "patterns": ["HOURS"], "reply": reply})
    assert resp.status_code == 201, resp.get_data(as_text=True)


def test_the_rule_form_shows_the_same_message_at_the_field(desk, api):
    api_message = api(
        "POST", "/api/v1/rules", json={"name": "r", "patterns": ["HOURS"], "reply": "{{ config }}"}
    ).get_json()["error"]["message"]
    desk.get("/admin/rules/new")
    response = desk.post(
        "/admin/rules/new",
        {"name": "r", "priority": "10", "match": "first_word", "patterns": "HOURS", "reply": "{{ config }}"},
    )
    assert response.status_code == 400
    reply_label = response.text.split('name="reply"', 1)[1].split("</label>", 1)[0]
    assert api_message.removeprefix("reply: ").replace("'", "&#39;") in reply_label


def test_a_rule_saved_before_the_checks_can_be_disabled_and_says_why_it_cannot_be_enabled(
    app, api, desk, query
):
    from app.extensions import db
    from app.rules.models import Rule

    with app.app_context():
        rule = Rule(
            name="old", name_key="old", match="regex",
            patterns=[r"\w{0,1000}\w{0,1000}b"], reply="{{ config }}"
        )
        db.session.add(rule)
        db.session.commit()
        rule_id = rule.id
        db.session.remove()
    desk.get("/admin/rules")
    assert desk.post(f"/admin/rules/{rule_id}/toggle").status_code == 302  # disabled
    assert query(lambda: db.session.get(Rule, rule_id).enabled) is False
    moved = api("PATCH", f"/api/v1/rules/{rule_id}", json={"priority": 5})
    assert moved.status_code == 200 and moved.get_json()["priority"] == 5
    response = desk.post(f"/admin/rules/{rule_id}/toggle", follow_redirects=True)
    assert "cannot be enabled" in response.text and "RE2 instructions" in response.text
    assert query(lambda: db.session.get(Rule, rule_id).enabled) is False
    refused = api("PATCH", f"/api/v1/rules/{rule_id}", json={"enabled": True})
    assert refused.status_code == 400 and "RE2 instructions" in refused.get_json()["error"]["message"]
