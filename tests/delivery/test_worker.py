"""The delivery worker against the sandbox over real HTTP: sends once, retries, reconciles."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.conversations.models import Message
from app.conversations.service import get_or_create_contact, get_or_create_conversation, queue_outbound
from app.delivery.worker import Worker
from app.extensions import db
from app.types import utcnow
from tests.conftest import OUR, wait_until


def queue(app, to: str, body: str = "hello", source: str = "api") -> int:
    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact(to))
        message = queue_outbound(conversation, body, source=source)
        db.session.commit()
        message_id = message.id
        db.session.remove()
        return message_id


def state(app, message_id: int) -> Message:
    with app.app_context():
        message = db.session.get(Message, message_id)
        db.session.expunge(message)
        db.session.remove()
        return message


def final_state(app, message_id, statuses=("delivered", "undelivered", "failed"), timeout=20):
    return wait_until(lambda: (m := state(app, message_id)).status in statuses and m, timeout)


@pytest.mark.parametrize(
    ("to", "status", "code"),
    [
        ("+14155550123", "delivered", None),
        ("+12025550101", "undelivered", 30003),
        ("+12025550102", "failed", 30008),
        ("+12025550103", "failed", 21211),
    ],
)
def test_outcomes_by_recipient(app, sandbox, worker, to, status, code):
    message_id = queue(app, to)
    message = final_state(app, message_id)
    assert message and message.status == status
    assert message.error_code == code
    expected_at_provider = 0 if to == "+12025550103" else 1
    assert len(sandbox.sent_to(to)) == expected_at_provider


@pytest.mark.parametrize("mode", ["error_500", "rate_limit", "timeout"])
def test_faults_are_retried_and_sent_exactly_once(app, sandbox, worker, mode):
    sandbox.faults(mode, count=2)
    to = "+14155550124"
    message_id = queue(app, to)
    message = final_state(app, message_id, ("delivered", "failed"), timeout=30)
    assert message and message.status == "delivered", message and message.last_error
    assert len(sandbox.sent_to(to)) == 1
    if mode != "timeout":
        assert message.attempts == 3
    if mode == "rate_limit":  # Retry-After: 1 held the row (and the circuit) for a second each time
        assert (message.date_updated - message.date_created).total_seconds() >= 2
    assert message.provider_id == sandbox.sent_to(to)[0]["id"]


def test_provider_errors_fail_only_when_validity_ends_with_code_and_whole_reason(app, sandbox, worker):
    sandbox.faults("error_500", count=10_000)
    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact("+14155550125"))
        message_id = queue_outbound(conversation, "short-lived", source="api", validity_period=3).id
        db.session.commit()
        db.session.remove()
    message = final_state(app, message_id, ("failed",), timeout=30)
    assert message and message.error_code == 30036
    assert message.error_message.startswith("validity period of 3 s ended"), message.error_message
    assert "provider_5xx HTTP 500 code 20500: Internal server error (simulated)" in message.error_message
    assert message.attempts >= 1
    assert sandbox.sent_to("+14155550125") == []


def test_opted_out_recipient_is_never_sent(app, sandbox, worker):
    """A message queued before the contact opted out (same commit here, so the worker can't race)."""
    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact("+14155550126"))
        message = queue_outbound(conversation, "queued before STOP", source="api")
        conversation.contact.opted_out = True
        db.session.commit()
        message_id = message.id
    message = final_state(app, message_id, ("failed",))
    assert message and message.error_code == 21610
    assert sandbox.sent_to("+14155550126") == []


def test_parallel_workers_never_send_twice(app, sandbox):
    numbers = [f"+1415555{1000 + i:04d}" for i in range(30)]
    ids = [queue(app, n, body=f"n{i}") for i, n in enumerate(numbers)]
    workers = [Worker(app, threads=3) for _ in range(3)]
    threads = [threading.Thread(target=w.run_forever, daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        assert wait_until(lambda: all(state(app, i).status == "delivered" for i in ids), 40)
    finally:
        for w in workers:
            w.stop.set()
        for t in threads:
            t.join(10)
    sent = [m for m in sandbox.messages(direction="outbound")]
    from collections import Counter

    assert Counter(m["to"] for m in sent) == Counter(numbers), Counter(m["to"] for m in sent) - Counter(
        numbers
    )


def test_expired_lease_after_a_crash_reconciles_instead_of_resending(app, sandbox):
    """A worker died after the provider accepted the send but before it recorded the answer."""
    to = "+14155550127"
    message_id = queue(app, to)
    with app.app_context():
        message = db.session.get(Message, message_id)
        # What the dead worker managed: the attempt was started and reached the provider.
        from app.telefonie.client import Client

        Client.from_config(app.config).send(to=to, from_=OUR, body="hello")
        db.session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(
                attempts=1,
                outcome_unknown=True,
                first_attempt_at=utcnow() - timedelta(seconds=1),
                lease_until=utcnow() - timedelta(seconds=1),
            )
        )
        db.session.commit()
        db.session.remove()
    w = Worker(app, threads=1)
    assert w.run_once() == 1
    w.breaker.forget()
    message = state(app, message_id)
    assert message.provider_id == sandbox.sent_to(to)[0]["id"]
    assert len(sandbox.sent_to(to)) == 1


def test_status_callback_before_send_recorded_is_applied(app, sandbox, worker):
    """Callbacks in reverse order (final first): the status ends final, every receipt is kept."""
    from app.conversations.models import Receipt

    sandbox.faults("out_of_order_callbacks", count=1)
    message_id = queue(app, "+14155550128")

    def receipts():
        with app.app_context():
            found = set(db.session.scalars(select(Receipt.status).where(Receipt.message_id == message_id)))
            db.session.remove()
            return found

    assert wait_until(lambda: {"queued", "sending", "sent", "delivered"} <= receipts())
    assert state(app, message_id).status == "delivered"
