"""The inbound webhook's statements: few, and the same with 0 or 500 keyword rules."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.rules import crud
from tests.conftest import inbound_payload, post_signed_webhook, record_statements

CUSTOMER = "+14155550201"


def statements_for(app, client, body: str) -> list[str]:
    with app.app_context():
        engine = db.engine
    with record_statements(engine) as seen:
        resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, body))
        assert resp.status_code == 204
    return [statement.split()[0].upper() for statement in seen]


def test_ordinary_message_statements_do_not_grow_with_rules(app, client, generations, monkeypatch):
    from app import cachebus
    from app.rules import service as rules

    # The caches reload only when this test says so: not on a late NOTIFY from the last test, nor
    # on a timer if the change listener is down (both at moments no test controls).
    monkeypatch.setattr(cachebus, "max_age", lambda fallback: 3600.0)
    statements_for(app, client, "first message creates the contact and thread")
    statements_for(app, client, "warm the caches")
    without_rules = statements_for(app, client, "an ordinary message")
    with app.app_context():
        for i in range(500):
            crud.create_rule({"name": f"kw{i}", "patterns": [f"KEYWORD{i}"], "reply": "hi"})
        db.session.commit()
    generations["rules"] += 1  # what the change listener does on the NOTIFY the commit sends
    statements_for(app, client, "warm the rule index")
    with_rules = statements_for(app, client, "another ordinary message")
    assert with_rules == without_rules
    with app.app_context():
        assert len(rules.rule_index().rules) == 500  # the messages above were matched against them
    # SQLite: find the thread (with its contact), insert the message, bump the thread;
    # PostgreSQL: all of it in one statement (data-modifying CTEs), one round trip
    with app.app_context():
        expected = ["WITH"] if db.engine.dialect.name == "postgresql" else ["SELECT", "INSERT", "UPDATE"]
    assert [s for s in without_rules if s in ("SELECT", "INSERT", "UPDATE", "WITH")] == expected


def test_status_statement_ranks_match_the_table():
    """The one-statement status path spells OUTBOUND_RANK's non-final statuses in SQL."""
    from app.conversations.service import RECORD_STATUS_PG
    from app.telefonie.schema import FINAL, OUTBOUND_RANK

    for status, rank in OUTBOUND_RANK.items():
        if status not in FINAL:
            assert f"WHEN '{status}' THEN {rank}" in RECORD_STATUS_PG.text


def test_known_message_status_is_one_statement_on_postgresql(app, client):
    """A receipt for a known message: lock, keep and apply in one round trip on PostgreSQL."""
    from app.conversations.models import Message
    from app.conversations.service import get_or_create_contact, get_or_create_conversation
    from tests.conftest import OUR

    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact(CUSTOMER))
        db.session.add(
            Message(
                conversation_id=conversation.id,
                direction="outbound",
                status="queued",
                from_number=OUR,
                to_number=CUSTOMER,
                body="hi",
                provider_id="TF-one-trip",
                source="api",
                attempts=1,
                outcome_unknown=False,
            )
        )
        db.session.commit()
        postgres = db.engine.dialect.name == "postgresql"
    with app.app_context():
        engine = db.engine
    payload = {
        "id": "TF-one-trip",
        "status": "delivered",
        "from": OUR,
        "to": CUSTOMER,
        "direction": "outbound",
        "price": "-0.0075",
        "price_unit": "USD",
        "date_sent": "2026-11-29T03:00:00Z",
    }
    with record_statements(engine) as recorded:
        assert post_signed_webhook(client, "/webhooks/telefonie/status", payload).status_code == 204
    seen = [statement.split()[0].upper() for statement in recorded]
    if postgres:
        assert [s for s in seen if s in ("SELECT", "INSERT", "UPDATE", "WITH")] == ["WITH"]
    with app.app_context():
        message = db.session.scalar(select(Message).where(Message.provider_id == "TF-one-trip"))
        assert (message.status, message.price, message.price_unit) == ("delivered", "-0.0075", "USD")
        assert message.date_sent is not None
