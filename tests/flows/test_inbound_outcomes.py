"""A table of inbound bodies and what the service does with each, through the real webhook and
the real database: opt-out, opt-in, help, flagged, a rule, or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.consent.models import ConsentEvent
from app.conversations.models import Contact, Conversation, Message
from app.extensions import db
from app.rules import crud
from tests.conftest import inbound_payload, post_signed_webhook

CUSTOMER = "+14155550191"

# body, opted out before?, expected outcome
CASES = [
    ("STOP", False, "opt_out"),
    ("stop", False, "opt_out"),
    ("  Stop.  ", False, "opt_out"),
    ("STOP!!!", False, "opt_out"),
    ("¡stop!", False, "opt_out"),
    ("ＳＴＯＰ", False, "opt_out"),
    ("StopAll", False, "opt_out"),
    ("unsubscribe", False, "opt_out"),
    ("Cancel", False, "opt_out"),
    ("end", False, "opt_out"),
    ("QUIT", False, "opt_out"),
    ("revoke", False, "opt_out"),
    ("optout", False, "opt_out"),
    ("opt out", False, "opt_out"),
    ("Opt-Out", False, "opt_out"),
    ("\tstop\n", False, "opt_out"),
    ("STOP", True, "nothing"),  # repeated STOP while opted out: nothing sent
    ("START", True, "opt_in"),
    ("start", False, "nothing"),
    ("Yes", True, "opt_in"),
    ("yes", False, "nothing"),
    ("unstop", True, "opt_in"),
    ("ＳＴＡＲＴ", True, "opt_in"),
    ("HELP", False, "help"),
    ("help", True, "help"),
    ("Info?", False, "help"),
    ("info", True, "help"),
    ("stop please", False, "flagged"),
    ("please stop texting me", False, "flagged"),
    ("remove me from this list", False, "flagged"),
    ("STOP 👍", False, "flagged"),
    ("stop by at 5", False, "nothing"),
    ("can't stop laughing", False, "nothing"),
    ("I want to cancel my order", False, "nothing"),
    ("hours", False, "rule:hours"),
    ("HOURS?", False, "rule:hours"),
    ("hours on sunday", False, "rule:hours"),
    ("what are your prices", False, "rule:prices"),
    ("PRICES and hours", False, "rule:prices"),
    ("order 12345 status", False, "rule:order"),
    ("hours", True, "nothing"),  # an opted-out contact gets no auto-reply
    ("hello", False, "nothing"),
    ("<script>alert(1)</script>", False, "nothing"),
    ("'; DROP TABLE contacts; --", False, "nothing"),
    ("👋", False, "nothing"),
]


@pytest.fixture
def rules(app):
    with app.app_context():
        crud.create_rule(
            {"name": "hours", "match": "first_word", "patterns": ["HOURS"], "reply": "9 to 5", "priority": 20}
        )
        crud.create_rule(
            {
                "name": "prices",
                "match": "contains",
                "patterns": ["price"],
                "reply": "See site",
                "priority": 10,
            }
        )
        crud.create_rule(
            {
                "name": "order",
                "match": "regex",
                "patterns": [r"order \d+"],
                "reply": "Checking",
                "priority": 30,
            }
        )
        db.session.commit()


def outcome(app) -> str:
    with app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.phone == CUSTOMER))
        conversation = db.session.scalar(select(Conversation))
        replies = db.session.scalars(select(Message).where(Message.direction == "outbound")).all()
        events = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        new_events = [e.action for e in events if e.source == "keyword"]
        if new_events == ["opt_out"] and contact.opted_out:
            assert [r.source for r in replies] == ["consent"]
            return "opt_out"
        if new_events == ["opt_in"] and not contact.opted_out:
            assert [r.source for r in replies] == ["consent"]
            return "opt_in"
        assert new_events == []
        if [r.source for r in replies] == ["consent"]:
            assert "rates may apply" in replies[0].body
            return "help"
        if conversation.flagged:
            assert replies == []
            return "flagged"
        if replies:
            assert [r.source for r in replies] == ["rule"]
            return "rule:" + {"9 to 5": "hours", "See site": "prices", "Checking": "order"}[replies[0].body]
        return "nothing"


@pytest.mark.parametrize(("body", "opted_out", "expected"), CASES, ids=[f"{c[0]!r}-{c[1]}" for c in CASES])
def test_inbound_outcome(app, client, rules, body, opted_out, expected):
    if opted_out:
        with app.app_context():
            from app.conversations.service import get_or_create_contact

            get_or_create_contact(CUSTOMER).opted_out = True
            db.session.commit()
    resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, body))
    assert resp.status_code == 204
    assert outcome(app) == expected
