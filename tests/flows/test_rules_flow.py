"""Rules end to end: API CRUD, priority, one reply per message, loop guard, schedules, YAML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from app.conversations.models import Conversation, Message
from app.extensions import db
from app.rules.models import RuleHit
from tests.conftest import OUR, inbound_payload, post_signed_webhook, wait_until

CUSTOMER = "+14155550171"
INBOUND = "/webhooks/telefonie/inbound"


def rule(api, **fields):
    data = {"name": "r", "match": "first_word", "patterns": ["HOURS"], "reply": "We open at 9", **fields}
    resp = api("POST", "/api/v1/rules", json=data)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def text_in(client, body, frm=CUSTOMER, to=OUR):
    resp = post_signed_webhook(client, INBOUND, inbound_payload(frm, body, to=to))
    assert resp.status_code == 204


def replies(app) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(
            select(Message.body).where(Message.direction == "outbound").order_by(Message.id)
        )
        out = list(rows)
        db.session.remove()
        return out


def test_rule_crud(api):
    created = rule(api, name="Opening hours", patterns=["HOURS", "OPEN"], priority=10, tags=["hours"])
    assert created["id"] and created["enabled"] is True and created["match"] == "first_word"
    rid = created["id"]
    assert api("GET", f"/api/v1/rules/{rid}").get_json()["name"] == "Opening hours"
    put = api("PUT", f"/api/v1/rules/{rid}", json={**created, "reply": "Open 9 to 5"})
    assert put.status_code == 200 and put.get_json()["reply"] == "Open 9 to 5"
    patch = api("PATCH", f"/api/v1/rules/{rid}", json={"enabled": False})
    assert patch.get_json()["enabled"] is False and patch.get_json()["reply"] == "Open 9 to 5"
    assert [r["id"] for r in api("GET", "/api/v1/rules").get_json()["rules"]] == [rid]
    assert api("DELETE", f"/api/v1/rules/{rid}").status_code == 204
    assert api("GET", f"/api/v1/rules/{rid}").status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "x", "patterns": [], "reply": "r"},
        {"name": "x", "patterns": ["a"], "reply": "r", "match": "fuzzy"},
        {"name": "x", "patterns": ["(a"], "reply": "r", "match": "regex"},
        {"name": "x", "patterns": ["(a)\\1"], "reply": "r", "match": "regex"},
        {"name": "x", "patterns": ["a"], "reply": "{{ unclosed"},
        {"name": "x", "patterns": ["a"], "reply": "r", "number": "555"},
        {"name": "x", "patterns": ["a"], "reply": "r", "schedule": {"timezone": "Mars/Olympus"}},
        {"name": "x", "patterns": ["a"], "reply": "r", "priority": "high"},
        {"name": "x", "patterns": ["a"], "reply": "r", "surprise": 1},
    ],
)
def test_bad_rules_are_refused_with_a_reason(api, data):
    resp = api("POST", "/api/v1/rules", json=data)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"]
    assert api("GET", "/api/v1/rules").get_json()["rules"] == []


def test_priority_and_one_reply_per_message(app, client, api):
    rule(api, name="low", patterns=["HOURS"], reply="low", priority=50)
    rule(api, name="high", match="contains", patterns=["hours"], reply="high", priority=5)
    rule(api, name="regex", match="regex", patterns=["^hou"], reply="regex", priority=20)
    text_in(client, "hours please")
    assert replies(app) == ["high"]


def test_keyword_rule_replies_through_the_sandbox(app, sandbox, worker, api):
    rule(api, patterns=["SMOKETEST"], reply="Hi {{ contact.name|default('there') }}, smoke ok")
    sandbox.inbound(CUSTOMER, "smoketest please")
    assert wait_until(lambda: [m["body"] for m in sandbox.sent_to(CUSTOMER)] == ["Hi there, smoke ok"])


def test_loop_guard_holds_at_three_per_ten_minutes(app, client, api):
    rule(api, patterns=["PING"], reply="pong")
    with freeze_time("2026-06-01 12:00:00") as frozen:
        for _ in range(5):
            text_in(client, "ping")
            frozen.tick(60)
        assert replies(app) == ["pong"] * 3
        frozen.tick(11 * 60)
        text_in(client, "ping")
        assert replies(app) == ["pong"] * 4
    with app.app_context():
        held = db.session.scalar(select(func.count()).select_from(RuleHit).where(RuleHit.sent.is_(False)))
        assert held == 2


def test_first_message_only_and_scope(app, client, api):
    rule(
        api,
        name="welcome",
        match="regex",
        patterns=[".*"],
        reply="Welcome!",
        first_message_only=True,
        number=OUR,
    )
    text_in(client, "hello")
    text_in(client, "hello again")
    text_in(client, "hello other number", to="+12025550198")
    assert replies(app) == ["Welcome!"]


def test_schedule_outside_hours(app, client, api):
    rule(
        api,
        name="after hours",
        match="regex",
        patterns=[".*"],
        reply="We are closed",
        schedule={
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00",
            "end": "17:00",
            "timezone": "America/New_York",
            "when": "outside",
        },
    )
    with freeze_time("2026-11-02 15:00:00"):  # Monday 10:00 in New York: open
        text_in(client, "anyone there?")
    assert replies(app) == []
    with freeze_time("2026-11-02 23:30:00"):  # Monday 18:30 in New York: closed
        text_in(client, "anyone there now?")
    assert replies(app) == ["We are closed"]


def test_actions_tag_close_assign(app, client, api):
    from app.accounts.service import create_user

    with app.app_context():
        create_user("agent@example.com", "password123")
        db.session.commit()
    rule(api, patterns=["BYE"], reply="Bye!", tags=["done"], close=True, assign_to="agent@example.com")
    text_in(client, "bye")
    with app.app_context():
        conversation = db.session.scalar(select(Conversation))
        assert conversation.tags == ["done"] and conversation.status == "closed"
        assert conversation.assignee_id is not None


def test_rules_test_endpoint_sends_nothing(app, api):
    created = rule(api, name="Opening hours", patterns=["HOURS"], reply="We open at 9")
    resp = api("POST", "/api/v1/rules/test", json={"from": CUSTOMER, "to": OUR, "body": "hours?"})
    expected_rule = {"id": created["id"], "name": "Opening hours"}
    assert resp.get_json() == {"consent": None, "rule": expected_rule, "reply": "We open at 9"}
    stop = api("POST", "/api/v1/rules/test", json={"from": CUSTOMER, "to": OUR, "body": "STOP"}).get_json()
    assert stop["consent"] == "opt_out" and stop["rule"] is None and "unsubscribed" in stop["reply"]
    nothing = api(
        "POST", "/api/v1/rules/test", json={"from": CUSTOMER, "to": OUR, "body": "hello"}
    ).get_json()
    assert nothing == {"consent": None, "rule": None, "reply": None}
    at = api("POST", "/api/v1/rules/test", json={"from": CUSTOMER, "to": OUR, "body": "x", "at": "soon"})
    assert at.status_code == 400
    assert replies(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_yaml_export_import_round_trip(app, api, tmp_path):
    rule(
        api,
        name="Opening hours",
        patterns=["HOURS", "OPEN"],
        reply="We open at 9",
        priority=10,
        schedule={
            "days": ["mon"],
            "start": "09:00",
            "end": "17:00",
            "timezone": "America/New_York",
            "when": "outside",
        },
    )
    rule(api, name="Prices", match="contains", patterns=["price"], reply="See example.com")
    runner = app.test_cli_runner()
    out = tmp_path / "rules.yml"
    result = runner.invoke(args=["rules", "export", str(out)])
    assert result.exit_code == 0, result.output
    exported = out.read_text()
    assert "Opening hours" in exported and "America/New_York" in exported
    api("DELETE", "/api/v1/rules/1")
    result = runner.invoke(args=["rules", "import", str(out)])
    assert result.exit_code == 0 and "1 created, 1 updated" in result.output
    names = sorted(r["name"] for r in api("GET", "/api/v1/rules").get_json()["rules"])
    assert names == ["Opening hours", "Prices"]
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "rules:\n  - name: ok\n    patterns: [A]\n    reply: fine\n  - name: broken\n    match: regex\n"
        "    patterns: ['(a']\n    reply: x\n"
    )
    result = runner.invoke(args=["rules", "import", str(bad)])
    assert result.exit_code != 0 and "broken" in result.output
    assert len(api("GET", "/api/v1/rules").get_json()["rules"]) == 2  # all or nothing


def test_rules_test_at_uses_the_given_time(api):
    rule(
        api,
        name="after hours",
        match="regex",
        patterns=[".*"],
        reply="closed",
        schedule={
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00",
            "end": "17:00",
            "timezone": "America/New_York",
            "when": "outside",
        },
    )
    inside = datetime(2026, 11, 2, 15, 0, tzinfo=UTC).isoformat()
    outside = "2026-11-02T23:30:00Z"
    assert (
        api(
            "POST", "/api/v1/rules/test", json={"from": CUSTOMER, "to": OUR, "body": "x", "at": inside}
        ).get_json()["rule"]
        is None
    )
    assert (
        api(
            "POST", "/api/v1/rules/test", json={"from": CUSTOMER, "to": OUR, "body": "x", "at": outside}
        ).get_json()["rule"]["name"]
        == "after hours"
    )
