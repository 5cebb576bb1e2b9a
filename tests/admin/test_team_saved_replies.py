"""Saved replies: create, edit, delete, validation, and the picker rendered for the contact."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.admin.models import SavedReply
from app.extensions import db


def titles(query) -> list[str]:
    return query(lambda: list(db.session.scalars(select(SavedReply.title).order_by(SavedReply.title))))


def test_create_edit_delete(desk, query):
    response = desk.post(
        "/admin/saved-replies",
        {"title": "Opening hours", "body": "Hi {{ contact.name }}!"},
        page="/admin/saved-replies",
    )
    assert response.status_code == 302
    assert titles(query) == ["Opening hours"]
    rid = query(lambda: db.session.scalar(select(SavedReply.id)))
    assert "Hi {{ contact.name }}!" in desk.html("/admin/saved-replies")
    assert "Opening hours" in desk.html(f"/admin/saved-replies/{rid}")
    desk.post(f"/admin/saved-replies/{rid}", {"title": "Hours", "body": "We open at 9."})
    assert titles(query) == ["Hours"]
    desk.post(f"/admin/saved-replies/{rid}/delete")
    assert titles(query) == []
    assert desk.get(f"/admin/saved-replies/{rid}").status_code == 404
    assert desk.post(f"/admin/saved-replies/{rid}/delete").status_code == 404


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"title": "", "body": "x"}, "Give the reply a title."),
        ({"title": "t", "body": "  "}, "Write the reply."),
        ({"title": "x" * 101, "body": "x"}, "At most 100 characters."),
        ({"title": "t", "body": "x" * 1601}, "At most 1600 characters."),
        ({"title": "t", "body": "{{ contact.name "}, "The template is not valid"),
        ({"title": "t", "body": "{% include 'x' %}"}, "The template is not valid"),
        ({"title": "t\x00", "body": "x"}, "NUL"),
        ({"title": "HOURS", "body": "x"}, "exists already"),
    ],
)
def test_bad_saved_replies_are_refused(desk, query, form, error):
    desk.post(
        "/admin/saved-replies", {"title": "Hours", "body": "We open at 9."}, page="/admin/saved-replies"
    )
    response = desk.post("/admin/saved-replies", form)
    assert response.status_code == 400
    assert error in response.text
    assert titles(query) == ["Hours"]


def test_picker_renders_for_the_contact(desk, make):
    cid = make("+14155550140", [("inbound", "hi")], name="Maria")
    desk.post(
        "/admin/saved-replies",
        {"title": "Greeting", "body": "Hello {{ contact.name | default('there') }}, this is {{ brand }}."},
        page="/admin/saved-replies",
    )
    desk.post("/admin/saved-replies", {"title": "Refund 100%_ policy", "body": "Refunds within 30 days."})
    desk.post("/admin/saved-replies", {"title": "Shipping", "body": "{{ contact.phone }} ships today"})
    url = f"/admin/conversations/{cid}/saved-replies.json"
    data = desk.client.get(url + "?q=gree").json
    assert data["replies"] == [
        {
            "id": data["replies"][0]["id"],
            "title": "Greeting",
            "text": "Hello Maria, this is Acme Support.",
            "error": None,
        }
    ]
    assert [r["title"] for r in desk.client.get(url).json["replies"]] == [
        "Greeting",
        "Refund 100%_ policy",
        "Shipping",
    ]
    assert [r["title"] for r in desk.client.get(url + "?q=%25_").json["replies"]] == ["Refund 100%_ policy"]
    assert desk.client.get(url + "?q=_").json["replies"][0]["title"] == "Refund 100%_ policy"
    assert desk.client.get(url + "?q=ship").json["replies"][0]["text"] == "+14155550140 ships today"
    assert desk.client.get(url + "?q=" + "x" * 5000).json["replies"] == []
    assert desk.client.get(url + "?q=%00' OR 1=1").status_code == 400  # the desk's input guard
    assert desk.client.get("/admin/conversations/999999/saved-replies.json").status_code == 404


def test_picker_unnamed_contact_uses_default(desk, make):
    cid = make("+14155550141", [("inbound", "hi")])
    desk.post(
        "/admin/saved-replies",
        {"title": "Greeting", "body": "Hello {{ contact.name | default('there') }}"},
        page="/admin/saved-replies",
    )
    data = desk.client.get(f"/admin/conversations/{cid}/saved-replies.json?q=g").json
    assert data["replies"][0]["text"] == "Hello there"


def test_saved_reply_is_escaped_on_the_list(desk):
    desk.post(
        "/admin/saved-replies",
        {"title": "<b>x</b>", "body": "<script>alert(1)</script>"},
        page="/admin/saved-replies",
    )
    html = desk.html("/admin/saved-replies")
    assert "<script>alert(1)" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
