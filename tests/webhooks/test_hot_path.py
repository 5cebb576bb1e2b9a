"""The inbound webhook's statements: few, and the same with 0 or 500 keyword rules."""

from __future__ import annotations

from sqlalchemy import event

from app.extensions import db
from app.rules import crud
from tests.conftest import inbound_payload, post_signed_webhook

CUSTOMER = "+14155550201"


def statements_for(app, client, body: str) -> list[str]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement.split()[0].upper())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, body))
        assert resp.status_code == 204
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_ordinary_message_statements_do_not_grow_with_rules(app, client):
    statements_for(app, client, "first message creates the contact and thread")
    statements_for(app, client, "warm the caches")
    without_rules = statements_for(app, client, "an ordinary message")
    with app.app_context():
        for i in range(500):
            crud.create_rule({"name": f"kw{i}", "patterns": [f"KEYWORD{i}"], "reply": "hi"})
        db.session.commit()
    statements_for(app, client, "warm the rule index")
    with_rules = statements_for(app, client, "another ordinary message")
    assert with_rules == without_rules
    # SQLite: find the thread (with its contact), insert the message, bump the thread;
    # PostgreSQL: all of it in one statement (data-modifying CTEs), one round trip
    with app.app_context():
        expected = ["WITH"] if db.engine.dialect.name == "postgresql" else ["SELECT", "INSERT", "UPDATE"]
    assert [s for s in without_rules if s in ("SELECT", "INSERT", "UPDATE", "WITH")] == expected
