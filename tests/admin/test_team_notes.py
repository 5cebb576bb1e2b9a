"""Private notes: shown in the timeline with author and time, never a message, never in the API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.admin.models import Note
from app.conversations.models import Message
from app.extensions import db

from .conftest import EMAIL


def count(query, model) -> int:
    return query(lambda: db.session.scalar(select(func.count()).select_from(model)))


def test_note_is_shown_and_never_becomes_a_message(desk, make, query, api):
    cid = make("+14155550130", [("inbound", "Where is my order?")])
    page = f"/admin/conversations/{cid}"
    before = count(query, Message)
    response = desk.post(
        f"{page}/notes", {"note": "Customer called, order #42 is late"}, follow_redirects=True
    )
    assert "Note added" in response.text
    html = desk.html(page)
    assert 'data-note="' in html and "Customer called, order #42 is late" in html
    assert f"Private note · {EMAIL}" in html
    assert count(query, Message) == before
    assert count(query, Note) == 1
    listed = api("GET", "/api/v1/messages").get_data(as_text=True)
    assert "order #42" not in listed
    data = desk.client.get(f"{page}/messages.json?after=0&note_after=0").json
    assert [n["body"] for n in data["notes"]] == ["Customer called, order #42 is late"]
    assert desk.client.get(f"{page}/messages.json?note_after=999").json["notes"] == []


@pytest.mark.parametrize(
    ("note", "error"),
    [
        ("", "Write a note first."),
        ("   \n ", "Write a note first."),
        ("x" * 5001, "at most 5000 characters"),
    ],
)
def test_bad_notes_are_refused(desk, make, query, note, error):
    cid = make("+14155550131", [("inbound", "hi")])
    response = desk.post(f"/admin/conversations/{cid}/notes", {"note": note}, follow_redirects=True)
    assert response.status_code == 200
    assert error in response.text
    assert count(query, Note) == 0


def test_a_nul_note_is_refused_by_the_input_guard(desk, make, query):
    cid = make("+14155550131", [("inbound", "hi")])
    response = desk.post(f"/admin/conversations/{cid}/notes", {"note": "nul\x00byte"})
    assert response.status_code == 400 and "NUL" in response.text and "<nav" in response.text
    assert count(query, Note) == 0


def test_hostile_note_is_escaped_and_unicode_kept(desk, make):
    cid = make("+14155550132", [("inbound", "hi")])
    text = "<img src=x onerror=alert(1)> ' OR 1=1 -- 👍 \u202e"
    desk.post(f"/admin/conversations/{cid}/notes", {"note": text})
    html = desk.html(f"/admin/conversations/{cid}")
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "👍" in html


def test_note_on_a_missing_thread_is_404(desk):
    assert desk.post("/admin/conversations/999999/notes", {"note": "x"}).status_code == 404
