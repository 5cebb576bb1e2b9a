"""The development sandbox panel posts to the sandbox, which posts to our inbound webhook."""

from __future__ import annotations

from sqlalchemy import select

from app.conversations.models import Message
from app.extensions import db
from tests.conftest import OUR, wait_until


def test_text_us_goes_through_the_sandbox(desk, sandbox, query):
    desk.get("/admin/")
    response = desk.post(
        "/admin/sandbox/inbound",
        {"from": "+14155550188", "to": OUR, "body": "Hello desk"},
        follow_redirects=True,
    )
    assert "Sandbox: +14155550188 texted" in response.text
    body = wait_until(
        lambda: query(
            lambda: db.session.scalar(select(Message.body).where(Message.from_number == "+14155550188"))
        )
    )
    assert body == "Hello desk"
    assert "Hello desk" in desk.html("/admin/")


def test_sandbox_errors_are_shown(desk, app):
    desk.get("/admin/")
    bad = desk.post("/admin/sandbox/inbound", {"from": "nope", "to": OUR, "body": "x"}, follow_redirects=True)
    assert "Sandbox:" in bad.text and "E.164" in bad.text
    saved = app.config["TELEFONIE_BASE_URL"]
    app.config["TELEFONIE_BASE_URL"] = "http://127.0.0.1:9/v1/sms"  # nothing listens on the discard port
    try:
        down = desk.post(
            "/admin/sandbox/inbound", {"from": "+14155550188", "to": OUR, "body": "x"}, follow_redirects=True
        )
    finally:
        app.config["TELEFONIE_BASE_URL"] = saved
    assert "Sandbox unreachable" in down.text
