"""Rules in the admin: create, edit, errors per field, enable/disable, reorder, delete, try a message."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.rules.models import Rule

FORM = {
    "name": "Opening hours",
    "enabled": "on",
    "priority": "10",
    "match": "first_word",
    "patterns": "HOURS\nopen",
    "number": "",
    "reply": "We open at 9. Hi {{ contact.name }}!",
    "tags": "hours, faq",
    "assign_to": "",
}


def rules(query) -> list[dict]:
    def load():
        return [
            {
                "id": r.id,
                "name": r.name,
                "priority": r.priority,
                "enabled": r.enabled,
                "patterns": r.patterns,
                "schedule": r.schedule,
                "tags": r.tags,
                "match": r.match,
            }
            for r in db.session.scalars(select(Rule).order_by(Rule.priority, Rule.id))
        ]

    return query(load)


def create(desk, **changes) -> None:
    desk.get("/admin/rules/new")
    response = desk.post("/admin/rules/new", {**FORM, **changes})
    assert response.status_code == 302, response.text


def test_create_list_and_edit(desk, query):
    create(desk)
    [rule] = rules(query)
    assert rule["name"] == "Opening hours" and rule["priority"] == 10 and rule["enabled"] is True
    assert (
        rule["patterns"] == ["HOURS", "open"]
        and rule["tags"] == ["hours", "faq"]
        and rule["schedule"] is None
    )
    html = desk.html("/admin/rules")
    assert "Opening hours" in html and "We open at 9. Hi {{ contact.name }}!" in html
    edit = desk.html(f"/admin/rules/{rule['id']}")
    assert 'value="Opening hours"' in edit
    response = desk.post(
        f"/admin/rules/{rule['id']}",
        {
            **FORM,
            "name": "Hours (weekdays)",
            "use_schedule": "on",
            "days": ["mon", "fri"],
            "start": "09:00",
            "end": "17:00",
            "timezone": "America/New_York",
            "when": "outside",
        },
    )
    assert response.status_code == 302
    [rule] = rules(query)
    assert rule["name"] == "Hours (weekdays)"
    assert rule["schedule"] == {
        "days": ["mon", "fri"],
        "start": "09:00",
        "end": "17:00",
        "timezone": "America/New_York",
        "when": "outside",
    }


def test_errors_are_shown_per_field(desk, query):
    desk.get("/admin/rules/new")
    response = desk.post(
        "/admin/rules/new",
        {
            **FORM,
            "name": " ",
            "priority": "soon",
            "match": "regex",
            "patterns": "(a",
            "use_schedule": "on",
            "start": "9am",
            "end": "17:00",
            "timezone": "Mars/Base",
            "assign_to": "not-an-email",
        },
    )
    assert response.status_code == 400
    html = response.text
    for needle in (
        "name must not be empty",
        "priority must be a whole number",
        "is not a valid regular expression",
        "schedule.start must be a 24-hour time",
        "assign_to must be an agent",
    ):
        assert needle in html.replace("&#34;", '"'), needle
    assert html.count('class="field-error"') >= 5
    assert 'value="soon"' in html  # the agent's input is kept
    assert rules(query) == []


def test_enable_disable_reorder_delete(desk, query):
    create(desk, name="First", priority="10")
    create(desk, name="Second", priority="20", patterns="PRICE")
    create(desk, name="Third", priority="20", patterns="MENU")
    first, second, third = rules(query)
    desk.post(f"/admin/rules/{first['id']}/toggle")
    assert rules(query)[0]["enabled"] is False
    assert "Disabled" in desk.html("/admin/rules")
    desk.post(f"/admin/rules/{first['id']}/toggle")
    assert rules(query)[0]["enabled"] is True

    desk.post(f"/admin/rules/{second['id']}/move", {"direction": "up"})  # distinct priorities: swap
    assert [r["name"] for r in rules(query)] == ["Second", "First", "Third"]
    desk.post(f"/admin/rules/{third['id']}/move", {"direction": "up"})  # tie with First at 20: renumber
    assert [(r["name"], r["priority"]) for r in rules(query)] == [
        ("Second", 10),
        ("Third", 20),
        ("First", 30),
    ]
    desk.post(f"/admin/rules/{second['id']}/move", {"direction": "up"})  # already first: nothing
    assert [r["name"] for r in rules(query)] == ["Second", "Third", "First"]

    response = desk.post(f"/admin/rules/{third['id']}/delete", follow_redirects=True)
    assert "Rule “Third” deleted." in response.text
    assert [r["name"] for r in rules(query)] == ["Second", "First"]
    assert desk.post("/admin/rules/999999/delete").status_code == 404


def test_try_a_message(desk, query):
    create(desk)
    rule_id = rules(query)[0]["id"]
    html = desk.post(
        "/admin/rules/try", {"from": "+14155550123", "to": "+12025550199", "body": "hours?"}
    ).text
    assert f'href="/admin/rules/{rule_id}">Opening hours</a>' in html
    assert "We open at 9. Hi !" in html
    stop = desk.post("/admin/rules/try", {"from": "+14155550123", "to": "+12025550199", "body": "Stop."}).text
    assert "Consent keyword:" in stop and "opt_out" in stop and "unsubscribed" in stop
    nothing = desk.post(
        "/admin/rules/try", {"from": "+14155550123", "to": "+12025550199", "body": "hello"}
    ).text
    assert "Nothing would answer." in nothing
    bad = desk.post("/admin/rules/try", {"from": "12", "to": "+12025550199", "body": "", "at": "tomorrow"})
    assert bad.status_code == 400
    assert (
        "E.164" in bad.text and "write the message to try" in bad.text and "&#39;at&#39; must be" in bad.text
    )


def test_rule_text_is_escaped(desk, query):
    create(desk, name="<script>alert(1)</script>", reply="<img src=x onerror=alert(1)>")
    html = desk.html("/admin/rules")
    assert "<script>alert(1)</script>" not in html and "<img src=x onerror=alert(1)>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
