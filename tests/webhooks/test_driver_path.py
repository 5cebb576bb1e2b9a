"""The self-committing statements (a plain inbound message, a known message's receipt) run on the
pooled connection's psycopg connection, not through SQLAlchemy's execute (app.dbutil.
first_row_alone). Whatever goes wrong there, the session path runs the statement again: nothing is
lost, nothing is stored twice, and no connection goes back to the pool in autocommit."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import event, select, text

from app import dbutil
from app.conversations.inbound import STORE_INBOUND_PG
from app.conversations.models import Contact, Message, Receipt
from app.conversations.service import RECORD_STATUS_PG
from app.extensions import db
from tests.conftest import OUR, inbound_payload, post_signed_webhook, record_statements, wait_until

INBOUND = "/webhooks/telefonie/inbound"
STATUS = "/webhooks/telefonie/status"
CUSTOMER = "+14155550177"


@pytest.fixture
def pg(app, client, generations, monkeypatch):
    """PostgreSQL, and the caches loaded and left alone (no reload on a NOTIFY or a timer): a
    request that has read through the session keeps its transaction, and the driver's path is
    for a request's only statement."""
    from app import cachebus

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the driver's path is PostgreSQL's")
        engine = db.engine
    monkeypatch.setattr(cachebus, "max_age", lambda fallback: 3600.0)
    warm = post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, "warm the caches"))
    assert warm.status_code == 204
    return engine


def _outbound(app, pid: str) -> None:
    from app.conversations.service import get_or_create_contact, get_or_create_conversation

    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact(CUSTOMER))
        db.session.add(Message(conversation_id=conversation.id, direction="outbound", status="queued",
                               from_number=OUR, to_number=CUSTOMER, body="hi", provider_id=pid,
                               source="api", attempts=1, outcome_unknown=False))
        db.session.commit()


def _column(column, pid: str):
    return db.session.scalar(select(column).where(Message.provider_id == pid))


def _receipt(pid: str, status: str) -> dict:
    return {"id": pid, "status": status, "from": OUR, "to": CUSTOMER, "direction": "outbound"}


def _pooled_autocommit(app) -> list[bool]:
    """Whether each connection the pool holds is in autocommit (checked out one by one)."""
    with app.app_context():
        engine = db.engine
    held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    try:
        return [bool(c.driver_connection.autocommit) for c in held]
    finally:
        for c in held:
            c.close()


def test_plain_messages_and_known_receipts_skip_sqlalchemys_execute(app, client, pg):
    _outbound(app, "TF-drv-known")
    seen_by_sqlalchemy: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        seen_by_sqlalchemy.append(statement)

    event.listen(pg, "before_cursor_execute", listen)
    try:
        with record_statements(pg, autocommit=True) as recorded:
            assert post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, "just saying hi",
                                                                       pid="TF-drv-1")).status_code == 204
            assert post_signed_webhook(client, STATUS, _receipt("TF-drv-known", "sent")).status_code == 204
    finally:
        event.remove(pg, "before_cursor_execute", listen)
    assert seen_by_sqlalchemy == []
    assert [(s.split()[0], flag) for s, flag in recorded] == [("WITH", True), ("WITH", True)]
    with app.app_context():
        assert _column(Message.body, "TF-drv-1") == "just saying hi"
        assert _column(Message.status, "TF-drv-known") == "sent"
    assert not any(_pooled_autocommit(app))


@pytest.mark.parametrize("statement", ["inbound", "status"])
def test_a_failing_driver_statement_is_run_again_by_the_session(app, client, pg, monkeypatch, statement):
    """Not a disconnect: an error on a live connection. The session runs the real statement."""
    _outbound(app, "TF-drv-retry")
    broken = STORE_INBOUND_PG if statement == "inbound" else RECORD_STATUS_PG
    monkeypatch.setitem(dbutil._DRIVER_SQL, broken, "SELECT 1 / 0")
    with record_statements(pg) as recorded:
        for _ in range(2):  # and a repeat is still stored once
            if statement == "inbound":
                payload = inbound_payload(CUSTOMER, "hello again", pid="TF-drv-2")
                resp = post_signed_webhook(client, INBOUND, payload)
            else:
                resp = post_signed_webhook(client, STATUS, _receipt("TF-drv-retry", "delivered"))
            assert resp.status_code == 204
    assert recorded.count("SELECT 1 / 0") == 2  # the driver's path was tried each time
    with app.app_context():
        if statement == "inbound":
            count = db.session.scalar(select(db.func.count()).select_from(Message)
                                      .where(Message.provider_id == "TF-drv-2"))
        else:
            count = db.session.scalar(select(db.func.count()).select_from(Receipt)
                                      .where(Receipt.provider_id == "TF-drv-retry"))
            assert _column(Message.status, "TF-drv-retry") == "delivered"
        assert count == 1
    assert not any(_pooled_autocommit(app))


def test_terminated_backends_lose_nothing_on_the_driver_path(app, client, pg, database_url):
    """A restart's effect on the pool: every pooled connection's backend is gone. The driver's try
    fails, the session path finds the pool stale too, SQLAlchemy invalidates it, and the webhook's
    one retry runs on a new connection: 204, each stored once, the customer's STOP still applied."""
    _outbound(app, "TF-drv-gone")
    for i in range(3):  # fill the pool with connections that served the driver's path
        assert post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, f"warm {i}")).status_code == 204
    with app.app_context():
        held = [pg.raw_connection() for _ in range(max(1, pg.pool.checkedin()))]
        pids = [c.driver_connection.execute("SELECT pg_backend_pid()").fetchone()[0] for c in held]
        for c in held:
            c.close()
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s))"
        assert wait_until(lambda: admin.execute(gone, (pids,)).fetchone()[0])
    answers = [
        post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, "after the restart", pid="TF-drv-3")),
        post_signed_webhook(client, STATUS, _receipt("TF-drv-gone", "delivered")),
        post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, "STOP", pid="TF-drv-4")),
    ]
    assert [r.status_code for r in answers] == [204, 204, 204]
    with app.app_context():
        stored = db.session.scalars(select(Message.provider_id).where(
            Message.provider_id.in_(["TF-drv-3", "TF-drv-4"]))).all()
        assert sorted(stored) == ["TF-drv-3", "TF-drv-4"]
        assert _column(Message.status, "TF-drv-gone") == "delivered"
        assert db.session.scalar(select(Contact.opted_out).where(Contact.phone == CUSTOMER)) is True
        assert db.session.execute(text("SELECT 1")).scalar() == 1
    assert not any(_pooled_autocommit(app))
