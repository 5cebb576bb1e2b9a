"""Issue 11, finding 1: consent texts are checked for their worst-case length when saved, and a
STOP is honoured with every value the settings page accepts."""

from __future__ import annotations

from sqlalchemy import select

from app import settings as stored
from app.conversations.models import Contact, Message
from app.extensions import db
from app.telefonie import segments
from tests.conftest import inbound_payload, post_signed_webhook

CUSTOMER = "+14155550191"
WIDE_BRAND = "\U0001f600" * 60  # the longest brand the page accepts, two UTF-16 units a character


def form(**changes) -> dict:
    return {**stored.DEFAULTS, **changes}


def test_a_stop_text_that_can_expand_too_long_is_refused(desk, query):
    desk.get("/admin/settings")
    response = desk.post("/admin/settings", form(brand="B" * 60, stop_text="{brand}" * 67 + " START"))
    assert response.status_code == 400
    assert "too long" in response.text and "the limit is 10" in response.text
    assert query(lambda: stored.get_all(fresh=True)["stop_text"]) == stored.DEFAULTS["stop_text"]


def test_help_and_start_texts_are_checked_too(desk):
    desk.get("/admin/settings")
    response = desk.post("/admin/settings", form(help_text="{contact} " * 8 + "STOP", start_text="x" * 480))
    assert response.status_code == 400 and response.text.count("too long") == 1


def longest_accepted(desk, brand: str) -> str:
    """Grow a stop_text one {brand} at a time until the page refuses it; the last one it took."""
    accepted = None
    for count in range(1, 30):
        text = "{brand} " * count + "Reply START"
        response = desk.post("/admin/settings", form(brand=brand, stop_text=text))
        if response.status_code != 302:
            assert response.status_code == 400 and "too long" in response.text
            return accepted
        accepted = text
    raise AssertionError("the page never refused a longer text")


def test_stop_is_honoured_with_the_longest_text_the_page_accepts(desk, client, query):
    desk.get("/admin/settings")
    text = longest_accepted(desk, WIDE_BRAND)
    assert text is not None
    assert query(lambda: stored.get_all(fresh=True)["stop_text"]) == text
    stored.invalidate_cache()
    resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, "STOP"))
    assert resp.status_code == 204

    def outcome():
        contact = db.session.scalar(select(Contact).where(Contact.phone == CUSTOMER))
        reply = db.session.scalar(select(Message).where(Message.direction == "outbound"))
        return contact.opted_out, reply.num_segments, reply.body

    opted_out, parts, body = query(outcome)
    assert opted_out is True
    assert parts <= segments.MAX_SEGMENTS and not body.endswith("...")  # sent whole, not cut
