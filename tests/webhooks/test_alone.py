"""A message neither consent nor a rule acts on is stored by one self-committing statement on
PostgreSQL (app.pipeline.stands_alone); every other message keeps the one-transaction path, so a
STOP, a START or a rule's reply is never split from the message it answers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.consent import service as consent
from app.consent.models import ConsentKeyword
from app.conversations.models import Contact, Message
from app.extensions import db
from app.pipeline import stands_alone
from app.rules import crud
from app.rules import service as rules
from tests.conftest import inbound_payload, post_signed_webhook, record_statements

PATH = "/webhooks/telefonie/inbound"
CUSTOMER = "+14155550144"


@pytest.fixture
def with_rule_and_keyword(app, generations, monkeypatch):
    """A rule and an extra consent keyword; the caches reload only when this test says so (not on
    a late NOTIFY from the last test, nor on a timer while the change listener is down)."""
    from app import cachebus

    monkeypatch.setattr(cachebus, "max_age", lambda fallback: 3600.0)
    with app.app_context():
        crud.create_rule({"name": "hours", "match": "first_word", "patterns": ["HOURS"], "reply": "9 to 5"})
        db.session.add(ConsentKeyword(keyword="basta", kind="opt_out"))
        db.session.commit()
        rules.invalidate_cache()
        consent.invalidate_cache()
    yield


@pytest.mark.parametrize(
    ("body", "alone"),
    [
        ("Hello, are you open on Sunday?", True),
        ("", True),
        ("STOP", False),
        ("stop", False),
        ("  Stop. ", False),
        ("UNSUBSCRIBE", False),
        ("START", False),  # an opt-in only while opted out, but who is opted out is not known yet
        ("HELP", False),
        ("please stop texting me", False),
        ("hours?", False),  # the rule's pattern
        ("Hours on Sunday", False),
        ("BASTA", False),  # the admin's own keyword
        ("what are your opening times", True),
    ],
)
def test_only_bodies_nothing_can_act_on_stand_alone(app, with_rule_and_keyword, body, alone):
    with app.test_request_context():
        assert stands_alone(body) is alone


def _autocommit_at_the_insert(app, client, body: str, pid: str) -> list[bool]:
    """The DBAPI connection's autocommit flag when the inbound statement ran."""
    with app.app_context():
        engine = db.engine
    with record_statements(engine, autocommit=True) as seen:
        resp = post_signed_webhook(client, PATH, inbound_payload(CUSTOMER, body, pid=pid))
        assert resp.status_code == 204
    return [
        flag for statement, flag in seen if "INSERT INTO messages" in statement and "inbound" in statement
    ]


def _replies(app) -> list[tuple[str, str]]:
    with app.app_context():
        query = select(Message.source, Message.body).where(Message.direction == "outbound")
        return [tuple(row) for row in db.session.execute(query.order_by(Message.id))]


def test_the_statement_commits_by_itself_only_when_the_message_stands_alone(
    app, client, with_rule_and_keyword
):
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if not postgres:
        pytest.skip("the self-committing statement is PostgreSQL's; SQLite has no round trips to save")
    # A request whose caches had to be reloaded has read in its session already: it takes the
    # one-transaction path (its first message here); from then on the caches answer from memory.
    assert _autocommit_at_the_insert(app, client, "good morning", "TF-alone-0") == [False]
    assert _autocommit_at_the_insert(app, client, "hello there", "TF-alone-1") == [True]
    assert _replies(app) == []
    assert _autocommit_at_the_insert(app, client, "HOURS please", "TF-alone-2") == [False]
    assert _replies(app) == [("rule", "9 to 5")]
    assert _autocommit_at_the_insert(app, client, "STOP", "TF-alone-3") == [False]
    assert [source for source, _ in _replies(app)] == ["rule", "consent"]
    # opted out now: a plain message stands alone again and nothing is sent
    assert _autocommit_at_the_insert(app, client, "one more thing", "TF-alone-4") == [True]
    assert _autocommit_at_the_insert(app, client, "START", "TF-alone-5") == [False]
    assert [source for source, _ in _replies(app)] == ["rule", "consent", "consent"]
    with app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.phone == CUSTOMER))
        assert contact.opted_out is False
        bodies = db.session.scalars(
            select(Message.body).where(Message.direction == "inbound").order_by(Message.id)
        ).all()
        assert bodies == ["good morning", "hello there", "HOURS please", "STOP", "one more thing", "START"]


def test_a_repeated_plain_message_is_stored_once_and_the_session_is_reusable(app, client):
    for _ in range(3):
        resp = post_signed_webhook(client, PATH, inbound_payload(CUSTOMER, "same again", pid="TF-alone-dup"))
        assert resp.status_code == 204
    # the next request, on a pooled connection that served an autocommit statement, still
    # runs STOP and its confirmation in one transaction
    resp = post_signed_webhook(client, PATH, inbound_payload(CUSTOMER, "STOP", pid="TF-alone-stop"))
    assert resp.status_code == 204
    with app.app_context():
        count = db.session.scalar(
            select(db.func.count()).select_from(Message).where(Message.provider_id == "TF-alone-dup")
        )
        assert count == 1
        assert db.session.scalar(select(Contact.opted_out).where(Contact.phone == CUSTOMER)) is True
    assert [source for source, _ in _replies(app)] == ["consent"]


def test_a_known_messages_receipt_commits_by_itself_an_unknown_ids_keeps_its_lock(app, client):
    """The known message's one statement is the whole work; a receipt for an id not recorded yet
    takes the id's advisory lock, which only means something inside a transaction."""
    from app.conversations.models import Receipt
    from app.conversations.service import get_or_create_contact, get_or_create_conversation
    from tests.conftest import OUR

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the self-committing statement is PostgreSQL's")
        conversation = get_or_create_conversation(OUR, get_or_create_contact(CUSTOMER))
        db.session.add(Message(conversation_id=conversation.id, direction="outbound", status="queued",
                               from_number=OUR, to_number=CUSTOMER, body="hi", provider_id="TF-known",
                               source="api", attempts=1, outcome_unknown=False))
        db.session.commit()
        engine = db.engine
    with record_statements(engine, autocommit=True) as recorded:
        for pid in ("TF-known", "TF-unknown"):
            payload = {"id": pid, "status": "delivered", "from": OUR, "to": CUSTOMER, "direction": "outbound"}
            assert post_signed_webhook(client, "/webhooks/telefonie/status", payload).status_code == 204
    seen = [(statement.split()[0].upper(), flag) for statement, flag in recorded]
    known, unknown = seen[0], seen[1:]
    assert known == ("WITH", True)
    assert unknown[0] == ("WITH", True)  # looked for the message: not there, nothing written
    assert unknown[1:] and all(not autocommit for _, autocommit in unknown[1:])  # lock, look again, keep
    with app.app_context():
        kept = {r.provider_id: r.applied for r in db.session.scalars(select(Receipt))}
        assert kept == {"TF-known": True, "TF-unknown": False}
        status = db.session.scalar(select(Message.status).where(Message.provider_id == "TF-known"))
        assert status == "delivered"


def test_a_self_committed_message_reaches_the_desk_once(app, client, database_url):
    """The statement sets app.desk_quiet for its own transaction, autocommit or not: the desk hears
    of the message once, from the publisher after the commit, and not from the triggers too."""
    import json

    import psycopg

    from app import publish

    if not database_url.startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's")
    with app.app_context():
        rules.rule_index()
        consent.keyword_set()
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as listener:
        listener.execute("LISTEN desk_events")
        for pid in ("TF-desk-1", "TF-desk-2"):
            resp = post_signed_webhook(client, PATH, inbound_payload(CUSTOMER, f"hello {pid}", pid=pid))
            assert resp.status_code == 204
        assert publish.flush(5.0)
        heard = [json.loads(n.payload) for n in listener.notifies(timeout=1.0)]
    inbound = [event for event in heard if event.get("k") == "in"]
    assert [event["p"] for event in inbound] == ["hello TF-desk-1", "hello TF-desk-2"]
