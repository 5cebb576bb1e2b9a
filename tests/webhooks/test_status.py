"""The status webhook: applied once, never backwards, kept when it arrives before its message."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from app.conversations.models import Message, Receipt
from app.conversations.service import (
    apply_pending_receipts,
    get_or_create_contact,
    get_or_create_conversation,
    queue_outbound,
)
from app.extensions import db
from tests.conftest import OUR, post_signed_webhook, signed_headers

PATH = "/webhooks/telefonie/status"
CUSTOMER = "+14155550123"


def status_payload(pid: str, status: str, **extra) -> dict:
    return {"id": pid, "direction": "outbound", "status": status, "from": OUR, "to": CUSTOMER, **extra}


@pytest.fixture
def sent_message(app):
    """An outbound message the worker has handed to the provider as provider id PROV1."""
    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact(CUSTOMER))
        message = queue_outbound(conversation, "hello", source="api")
        message.provider_id = "PROV1"
        db.session.commit()
        message_id = message.id
        db.session.remove()
    return message_id


def message_state(app, message_id):
    with app.app_context():
        m = db.session.get(Message, message_id)
        receipts = db.session.scalars(
            select(Receipt.status).where(Receipt.message_id == message_id).order_by(Receipt.id)
        ).all()
        state = (m.status, m.error_code, receipts)
        db.session.remove()
        return state


CASES = [
    ("forward", ["sending", "sent", "delivered"], "delivered", None),
    ("backwards ignored", ["delivered", "sent", "sending", "queued"], "delivered", None),
    ("first final wins", ["sent", "failed", "delivered"], "failed", 30008),
    ("undelivered with code", ["undelivered"], "undelivered", 30003),
    ("duplicates applied once", ["sent", "sent", "sent", "delivered", "delivered"], "delivered", None),
]


@pytest.mark.parametrize(("name", "sequence", "final", "code"), CASES, ids=[c[0] for c in CASES])
def test_status_sequences(app, client, sent_message, name, sequence, final, code):
    for status in sequence:
        extra = {}
        if status in ("failed", "undelivered"):
            extra = {"error_code": 30008 if status == "failed" else 30003, "error_message": "carrier said no"}
        assert post_signed_webhook(client, PATH, status_payload("PROV1", status, **extra)).status_code == 204
    status, error_code, receipts = message_state(app, sent_message)
    assert status == final
    assert error_code == code
    assert sorted(receipts) == sorted(set(sequence))  # every distinct receipt kept, repeats once


def test_form_encoded_status_with_price(app, client, sent_message):
    raw = urlencode(
        status_payload("PROV1", "delivered", price="0.0079", price_unit="USD", num_segments="1")
    ).encode()
    resp = client.post(
        PATH, data=raw, headers=signed_headers(raw, content_type="application/x-www-form-urlencoded")
    )
    assert resp.status_code == 204
    with app.app_context():
        m = db.session.get(Message, sent_message)
        assert (m.status, m.price, m.price_unit) == ("delivered", "0.0079", "USD")
        assert m.date_sent is not None


def test_receipt_before_provider_id_is_kept_then_applied(app, client):
    for status in ("sent", "delivered"):
        assert post_signed_webhook(client, PATH, status_payload("EARLY1", status)).status_code == 204
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Receipt).where(Receipt.message_id.is_(None)))
            == 2
        )
        conversation = get_or_create_conversation(OUR, get_or_create_contact(CUSTOMER))
        message = queue_outbound(conversation, "hello", source="api")
        message.provider_id = "EARLY1"
        db.session.flush()
        assert apply_pending_receipts(message) == 2
        db.session.commit()
        assert message.status == "delivered"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"id": "P", "status": "teleported"}, 400),
        ({"id": "P"}, 400),
        ({"status": "sent"}, 400),
        ({"id": "P", "status": "sent", "direction": "inbound"}, 400),
        ({"id": "P", "status": "sent", "error_code": "abc"}, 400),
        ({"id": "P", "status": "sent", "from": "12345"}, 400),
        ({"id": "P", "status": "received"}, 400),
        ({"id": "P", "status": "sent", "date_updated": "not a date"}, 400),
        ({"id": "P", "status": "sent", "error_message": "x" * 501}, 400),
        ({"id": "P", "status": "sent", "error_code": 2**40}, 400),
        ({"id": "P", "status": "sent"}, 204),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else str(v),
)
def test_status_validation(app, client, payload, status):
    resp = post_signed_webhook(client, PATH, payload)
    assert resp.status_code == status
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Receipt))
    assert stored == (1 if status == 204 else 0)


def test_status_needs_signature(app, client):
    raw = json.dumps(status_payload("P", "sent")).encode()
    resp = client.post(PATH, data=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 401


def _row_version(app, message_id):
    """The row's xmin: a new one means the row was written again (PostgreSQL)."""
    from sqlalchemy import text

    with app.app_context():
        query = text("SELECT xmin::text FROM messages WHERE id = :id")
        version = db.session.execute(query, {"id": message_id}).scalar()
        db.session.remove()
        return version


def test_a_report_that_changes_nothing_leaves_the_row_unwritten(app, client, sent_message):
    """Late statuses with no new price or send time are kept as receipts but do not rewrite the
    message (no new row version, indexes and triggers untouched); a new price still lands."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row versions are PostgreSQL's")
    delivered = status_payload(
        "PROV1", "delivered", price="-0.0075", price_unit="USD", date_sent="2026-11-29T03:00:00Z"
    )
    assert post_signed_webhook(client, PATH, delivered).status_code == 204
    before = _row_version(app, sent_message)
    late = [
        status_payload("PROV1", "sending"),
        status_payload("PROV1", "sent", date_sent="2026-11-29T03:00:01Z"),
        status_payload("PROV1", "failed", error_code=30008, error_message="late"),
        status_payload("PROV1", "undelivered", price="-0.0075", price_unit="USD"),
    ]
    for payload in late:
        assert post_signed_webhook(client, PATH, payload).status_code == 204
    assert _row_version(app, sent_message) == before
    status, error_code, receipts = message_state(app, sent_message)
    assert (status, error_code) == ("delivered", None)
    assert sorted(receipts) == ["delivered", "failed", "sending", "sent", "undelivered"]
    # a price that differs is a change: written, the status still the first final one
    queued = status_payload("PROV1", "queued", price="-0.0100", price_unit="EUR")
    assert post_signed_webhook(client, PATH, queued).status_code == 204
    assert _row_version(app, sent_message) != before
    with app.app_context():
        message = db.session.get(Message, sent_message)
        assert (message.status, message.price, message.price_unit) == ("delivered", "-0.0100", "EUR")
        assert message.date_sent is not None
        db.session.remove()
