"""The outbound engine's fault handling, in process against the sandbox over real HTTP: the
shared circuit, whole error reasons, independent sends, reconcile without a horizon, the status
sweeper, late receipts, and a main loop that outlives database errors."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from app.conversations.models import Message
from app.delivery import reconcile, sweeps
from app.delivery.models import Circuit, RetryCount, StatusCheck
from app.delivery.worker import Worker
from app.extensions import db
from app.telefonie.client import Client
from app.types import utcnow
from tests.conftest import OUR, free_port, post_signed_webhook, wait_until
from tests.delivery.test_worker import final_state, queue, state


def run(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    return thread


def halt(worker: Worker, thread: threading.Thread) -> None:
    worker.stop.set()
    thread.join(30)
    assert not thread.is_alive()


def scalar(app, statement):
    with app.app_context():
        value = db.session.scalar(statement)
        db.session.remove()
        return value


def test_5xx_storm_opens_the_circuit_instead_of_burning_every_row(app, sandbox):
    sandbox.faults("error_500", count=10_000)
    numbers = [f"+1415555{2000 + i:04d}" for i in range(30)]
    ids = [queue(app, n, body=f"storm {i}") for i, n in enumerate(numbers)]
    worker = Worker(app, threads=4)
    worker.breaker.max_cooldown = 0.5
    thread = run(worker)
    try:
        assert wait_until(lambda: scalar(app, select(Circuit.state)) in ("open", "half_open"), 15)
        time.sleep(2)
        attempts = scalar(app, select(func.sum(Message.attempts)))
        # Threshold (5) plus the sends in flight when it opened plus about two probes a second:
        # far fewer than one attempt per row, let alone the rows' retries.
        assert attempts < 25, attempts
        assert scalar(app, select(func.count()).where(Message.status == "failed")) == 0
        assert scalar(app, select(RetryCount.count).where(RetryCount.cause == "provider_5xx")) >= 5
        sandbox.faults("error_500", count=0)
        assert wait_until(lambda: all(state(app, i).status == "delivered" for i in ids), 30)
    finally:
        halt(worker, thread)
    assert sorted(m["to"] for m in sandbox.messages(direction="outbound")) == sorted(numbers)
    assert scalar(app, select(Circuit.state)) == "closed"


def test_refused_connection_is_saved_whole_with_its_code(app, sandbox):
    client = Client(f"http://127.0.0.1:{free_port()}/v1/sms", "key", connect_timeout=0.5, read_timeout=1)
    with app.app_context():
        from app.conversations.service import (
            get_or_create_contact,
            get_or_create_conversation,
            queue_outbound,
        )

        conversation = get_or_create_conversation(OUR, get_or_create_contact("+14155550140"))
        message_id = queue_outbound(conversation, "nobody home", source="api", validity_period=2).id
        db.session.commit()
        db.session.remove()
    worker = Worker(app, client=client, threads=2)
    thread = run(worker)
    try:
        message = final_state(app, message_id, ("failed",), timeout=20)
    finally:
        halt(worker, thread)
    assert message and message.error_code == 30036
    assert (
        "connection_refused: the provider refused the connection (POST http://127.0.0.1:"
        in message.error_message
    )
    assert "[Errno 111] Connection refused" in message.error_message
    assert "HTTPConnectionPool" not in message.error_message and not message.error_message.endswith("…")


def test_a_slow_send_holds_only_its_own_row(app, sandbox, sandbox_server):
    """The sandbox holds one answer 10 s (the client waits up to 15 s here); the other 20
    messages are all accepted while that one send is still waiting. (10 s, not the suite's 2 s:
    on a busy machine 20 sends can take longer than 2 s, and the slow one would be back first.)"""
    config = sandbox_server.server.app.config
    saved = config["TIMEOUT_DELAY"]
    config["TIMEOUT_DELAY"] = 10.0
    sandbox.faults("timeout", count=1)
    numbers = [f"+1415555{3000 + i:04d}" for i in range(21)]
    ids = [queue(app, n, body=f"send {i}") for i, n in enumerate(numbers)]
    client = Client(app.config["TELEFONIE_BASE_URL"], app.config["TELEFONIE_API_KEY"], read_timeout=15)
    worker = Worker(app, client=client, threads=4)
    thread = run(worker)
    try:
        assert wait_until(lambda: sum(1 for i in ids if state(app, i).provider_id) >= 20, 15)
        waiting = [m for m in (state(app, i) for i in ids) if not m.provider_id]
        assert len(waiting) == 1, "a healthy send waited for the slow one"
        assert waiting[0].attempts == 1 and waiting[0].outcome_unknown  # its one send is still out
        assert wait_until(lambda: all(state(app, i).provider_id for i in ids), 20)
    finally:
        config["TIMEOUT_DELAY"] = saved
        halt(worker, thread)
    assert sorted(m["to"] for m in sandbox.messages(direction="outbound")) == numbers


def test_reconcile_reads_back_past_1500_newer_messages(app, sandbox):
    """The lost attempt is the oldest of 1,501 provider records to one number: still found."""
    to = "+14155550142"
    message_id = queue(app, to, body="needle")
    client = Client(app.config["TELEFONIE_BASE_URL"], app.config["TELEFONIE_API_KEY"])
    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(attempts=1, outcome_unknown=True, first_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    lost = client.send(to=to, from_=OUR, body="needle")
    session = client.session
    for i in range(1500):
        session.post(
            client.base_url + "/messages", json={"to": to, "from": OUR, "body": f"hay {i}"}, timeout=10
        )
    with app.app_context():
        message = db.session.get(Message, message_id)
        found = reconcile.claim(reconcile.candidates(client, message))
        db.session.rollback()
    assert found and found["id"] == lost["id"]
    worker = Worker(app, threads=1)
    assert worker.run_once() == 1
    assert state(app, message_id).provider_id == lost["id"]
    assert len([m for m in sandbox.sent_to(to) if m["body"] == "needle"]) == 1


def test_reconcile_skips_a_record_another_message_holds(app, sandbox):
    to = "+14155550143"
    client = Client(app.config["TELEFONIE_BASE_URL"], app.config["TELEFONIE_API_KEY"])
    first, second = queue(app, to, body="same"), queue(app, to, body="same")
    started = utcnow() - timedelta(seconds=1)
    records = [client.send(to=to, from_=OUR, body="same") for _ in range(2)]
    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.id.in_([first, second]))
            .values(attempts=1, outcome_unknown=True, first_attempt_at=started)
        )
        db.session.execute(update(Message).where(Message.id == first).values(provider_id=records[0]["id"]))
        db.session.commit()
        message = db.session.get(Message, second)
        found = reconcile.claim(reconcile.candidates(client, message))
        db.session.rollback()
    assert found and found["id"] == records[1]["id"]


def test_late_sent_receipt_still_fills_date_sent(client, app):
    message_id = queue(app, "+14155550144")
    with app.app_context():
        db.session.execute(update(Message).where(Message.id == message_id).values(provider_id="TFlate1"))
        db.session.commit()
    base = {"id": "TFlate1", "direction": "outbound", "from": OUR, "to": "+14155550144", "body": "hello"}
    assert (
        post_signed_webhook(client, "/webhooks/telefonie/status", {**base, "status": "delivered"}).status_code
        == 204
    )
    with app.app_context():
        db.session.execute(update(Message).where(Message.id == message_id).values(date_sent=None))
        db.session.commit()
    late = {**base, "status": "sent", "date_sent": "2026-11-29T01:02:03Z"}
    assert post_signed_webhook(client, "/webhooks/telefonie/status", late).status_code == 204
    message = state(app, message_id)
    assert message.status == "delivered"
    assert message.date_sent is not None and message.date_sent.isoformat().startswith("2026-11-29T01:02:03")


def test_sweeper_asks_the_provider_about_messages_left_without_a_final_status(app, sandbox):
    to = "+14155550145"
    client = Client(app.config["TELEFONIE_BASE_URL"], app.config["TELEFONIE_API_KEY"])
    record = client.send(to=to, from_=OUR, body="no callback")  # no status_callback: no webhooks
    message_id = queue(app, to, body="no callback")
    old = utcnow() - timedelta(hours=1)
    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(provider_id=record["id"], status="sent", date_updated=old)
        )
        db.session.commit()
    assert wait_until(lambda: client.get(record["id"])["status"] == "delivered", 10)
    with app.app_context():
        assert sweeps.check_statuses(app, client) == 1
        assert sweeps.check_statuses(app, client) == 0  # asked once per interval, not every sweep
        assert db.session.get(StatusCheck, message_id).checks == 1
        db.session.remove()
    message = state(app, message_id)
    assert message.status == "delivered" and message.date_sent is not None


def test_main_loop_outlives_database_errors(app, sandbox, monkeypatch):
    """Every database call of the loop fails for a while (seconds_until_due included): the
    worker logs, waits, and sends as soon as the calls work again."""
    worker = Worker(app, threads=2)
    failing = threading.Event()
    failing.set()
    real_due, real_send = worker.seconds_until_due, worker.send_one

    def broken(real):
        def call():
            if failing.is_set():
                raise OperationalError("SELECT 1", {}, Exception("database is away"))
            return real()

        return call

    monkeypatch.setattr(worker, "seconds_until_due", broken(real_due))
    monkeypatch.setattr(worker, "send_one", broken(real_send))
    thread = run(worker)
    try:
        message_id = queue(app, "+14155550146")
        time.sleep(1.5)
        assert thread.is_alive() and state(app, message_id).status == "queued"
        failing.clear()
        message = final_state(app, message_id)
        assert message and message.status == "delivered"
    finally:
        halt(worker, thread)
