"""NOTIFY after commit (app/publish.py): sent once the data is committed, never for a rollback, and
never from inside the webhook transactions (their desk_events triggers stay quiet, migration 0013)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from sqlalchemy import text

from app import publish
from app.conversations.service import get_or_create_contact, get_or_create_conversation, queue_outbound
from app.dbutil import notify
from app.extensions import db
from tests.conftest import OUR, inbound_payload, post_signed_webhook


@pytest.fixture
def listen(app):
    """A raw LISTENing connection: listen(channel) -> received(seconds) -> [payloads]."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("LISTEN/NOTIFY is PostgreSQL only")
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(dsn, autocommit=True)

    def start(channel: str):
        conn.execute(f"LISTEN {channel}")

        def received(seconds: float) -> list[str]:
            with app.app_context():
                publish.flush()
            return [n.payload for n in conn.notifies(timeout=seconds)]

        return received

    yield start
    conn.close()


def test_sent_after_commit_not_before(app, listen):
    received = listen("t_publish")
    with app.app_context():
        notify("t_publish", "one")
        notify("t_publish", "two")
        assert received(0.3) == []  # not yet committed: nothing may be heard
        db.session.commit()
        assert received(1.0) == ["one", "two"]
        db.session.remove()


def test_a_connection_the_database_closed_costs_no_notification(app, listen, database_url):
    """A restart or a terminated backend between two batches: the publisher finds out only when
    it next sends, and sends that batch again on a new connection instead of dropping it."""
    from tests.conftest import wait_until

    received = listen("t_publish")
    with app.app_context():
        notify("t_publish", "before")
        db.session.commit()
        assert received(1.0) == ["before"]
        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as admin:
            mine = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'SELECT pg_notify(n.c, n.p)%%' AND pid <> pg_backend_pid()")
            pids = [row[0] for row in admin.execute(mine).fetchall()]
            assert pids  # the publisher's connection, its last statement a batch
            admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
            gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s))"
            assert wait_until(lambda: admin.execute(gone, (pids,)).fetchone()[0])
        notify("t_publish", "after")
        db.session.commit()
        assert received(2.0) == ["after"]
        db.session.remove()


def test_nothing_sent_for_a_rollback(app, listen):
    received = listen("t_publish")
    with app.app_context():
        notify("t_publish", "lost")
        db.session.rollback()
        db.session.execute(text("SELECT 1"))
        db.session.commit()  # a later commit does not carry the rolled-back notification
        assert received(0.5) == []
        db.session.remove()


def test_a_burst_is_sent_in_order_and_whole(app, listen):
    received = listen("t_publish")
    with app.app_context():
        for i in range(1200):  # more than one batch
            notify("t_publish", str(i))
            db.session.commit()
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 1200 and time.monotonic() < deadline:
            got += received(0.5)
        assert got == [str(i) for i in range(1200)]
        db.session.remove()


def test_inbound_webhook_sends_exactly_one_desk_event(app, client, listen):
    received = listen("desk_events")
    r = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload("+14155550177", "hi <b>"))
    assert r.status_code == 204
    events = [json.loads(p) for p in received(1.0)]
    # a new contact, a new thread and the message: the triggers would have sent a "conv" and an
    # "in"; they stay quiet in the webhook's transaction, which publishes its "in" after commit
    assert [e["k"] for e in events] == ["in"], events
    assert events[0]["p"] == "hi <b>" and events[0]["a"] is None
    with app.app_context():
        cid = db.session.execute(text("SELECT conversation_id FROM messages WHERE body = 'hi <b>'")).scalar()
    assert events[0]["c"] == cid
    # a repeat of the same message stores nothing and announces nothing
    r = post_signed_webhook(
        client, "/webhooks/telefonie/inbound", inbound_payload("+14155550177", "again", pid="SAME")
    )
    assert r.status_code == 204
    assert [json.loads(p)["k"] for p in received(1.0)] == ["in"]
    r = post_signed_webhook(
        client, "/webhooks/telefonie/inbound", inbound_payload("+14155550177", "again", pid="SAME")
    )
    assert r.status_code == 204
    assert received(0.5) == []


def test_status_webhook_announces_a_moved_status_once(app, client, listen):
    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact("+14155550178"))
        message = queue_outbound(conversation, "hello", source="api")
        message.provider_id = "PUB1"
        db.session.commit()
        cid = conversation.id
        db.session.remove()
    received = listen("desk_events")

    def status(value: str):
        payload = {"id": "PUB1", "direction": "outbound", "status": value, "from": OUR, "to": "+14155550178"}
        assert post_signed_webhook(client, "/webhooks/telefonie/status", payload).status_code == 204

    status("sent")
    assert [json.loads(p) for p in received(1.0)] == [{"c": cid, "k": "msg"}]
    status("sent")  # a repeat: nothing moved
    status("sending")  # backwards: kept in the history, not applied
    assert received(0.5) == []


def test_other_writers_are_still_heard_through_the_triggers(app, listen):
    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact("+14155550179"))
        db.session.commit()
        cid = conversation.id
        db.session.remove()
    received = listen("desk_events")
    with app.app_context():
        db.session.execute(text("UPDATE conversations SET status = 'closed' WHERE id = :c"), {"c": cid})
        db.session.commit()
        db.session.remove()
    events = [json.loads(p) for p in received(1.0)]
    assert [(e["c"], e["k"]) for e in events] == [(cid, "conv")]



def test_a_workers_wake_up_skips_the_linger_and_takes_the_waiting_ones_along(app, monkeypatch):
    """Desk events wait LINGER so that a burst shares one statement; a delivery worker's wake-up
    (a queued reply on its way to a customer) goes out at once, with whatever is waiting."""
    from app.conversations.service import QUEUE_CHANNEL

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("LISTEN/NOTIFY is PostgreSQL only")
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        publish.flush()
    monkeypatch.setattr(publish, "LINGER", 5.0)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("LISTEN t_linger")
        conn.execute(f"LISTEN {QUEUE_CHANNEL}")
        with app.app_context():
            notify("t_linger", "desk")
            db.session.commit()
            # read without publish.flush(), which would wait the linger out
            assert [n.payload for n in conn.notifies(timeout=0.4)] == []  # lingering
            notify(QUEUE_CHANNEL, "wake")
            db.session.commit()
            heard = [(n.channel, n.payload) for n in conn.notifies(timeout=1.0)]  # 5 s without the hurry
            assert heard == [("t_linger", "desk"), (QUEUE_CHANNEL, "wake")]
            publish.flush()
            db.session.remove()
