"""Consent end to end over real HTTP: the sandbox texts the live app, the worker answers through
the sandbox. STOP, HELP, START, and a reply queued before STOP never sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.consent.models import ConsentEvent
from app.conversations.models import Contact, Conversation, Message
from app.conversations.service import get_or_create_contact, get_or_create_conversation, queue_outbound
from app.extensions import db
from tests.conftest import OUR, wait_until

CUSTOMER = "+14155550161"


def bodies_sent_to(sandbox, number):
    return [m["body"] for m in sorted(sandbox.sent_to(number), key=lambda m: m["date_created"])]


def contact(app, phone=CUSTOMER) -> Contact | None:
    with app.app_context():
        row = db.session.scalar(select(Contact).where(Contact.phone == phone))
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
        return row


def test_stop_help_start_round_trip(app, sandbox, worker, api):
    sandbox.inbound(CUSTOMER, "  Stop!! ")
    assert wait_until(lambda: (c := contact(app)) is not None and c.opted_out)
    assert wait_until(lambda: len(bodies_sent_to(sandbox, CUSTOMER)) == 1)
    confirmation = bodies_sent_to(sandbox, CUSTOMER)[0]
    assert "unsubscribed" in confirmation and "START" in confirmation

    resp = api("POST", "/api/v1/messages", json={"to": CUSTOMER, "from": OUR, "body": "promo"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "21610"

    sandbox.inbound(CUSTOMER, "STOP")  # a repeated STOP sends nothing
    sandbox.inbound(CUSTOMER, "help")  # HELP is answered even while opted out
    assert wait_until(lambda: len(bodies_sent_to(sandbox, CUSTOMER)) == 2)
    assert "Msg&data rates may apply" in bodies_sent_to(sandbox, CUSTOMER)[1]

    sandbox.inbound(CUSTOMER, "ＳＴＡＲＴ")
    assert wait_until(lambda: not contact(app).opted_out)
    assert wait_until(lambda: len(bodies_sent_to(sandbox, CUSTOMER)) == 3)
    assert "subscribed again" in bodies_sent_to(sandbox, CUSTOMER)[2]
    assert (
        api("POST", "/api/v1/messages", json={"to": CUSTOMER, "from": OUR, "body": "hi"}).status_code == 201
    )
    assert wait_until(lambda: len(bodies_sent_to(sandbox, CUSTOMER)) == 4)
    with app.app_context():
        log = db.session.execute(
            select(ConsentEvent.action, ConsentEvent.source, ConsentEvent.message_body).order_by(
                ConsentEvent.id
            )
        ).all()
    assert [tuple(r) for r in log] == [
        ("opt_out", "keyword", "  Stop!! "),
        ("opt_in", "keyword", "ＳＴＡＲＴ"),
    ]


def test_reply_queued_before_stop_is_never_sent(app, client, sandbox):
    from tests.conftest import inbound_payload, post_signed_webhook

    with app.app_context():
        conversation = get_or_create_conversation(OUR, get_or_create_contact(CUSTOMER))
        early = queue_outbound(conversation, "queued before the STOP", source="agent")
        db.session.commit()
        early_id = early.id
    assert (
        post_signed_webhook(
            client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, "stop")
        ).status_code
        == 204
    )
    from app.delivery.worker import Worker

    w = Worker(app, threads=1)
    while w.run_once():
        pass
    with app.app_context():
        early = db.session.get(Message, early_id)
        assert (early.status, early.error_code) == ("failed", 21610)
    assert bodies_sent_to(sandbox, CUSTOMER) == [
        wait_until(lambda: bodies_sent_to(sandbox, CUSTOMER) and bodies_sent_to(sandbox, CUSTOMER)[0])
    ]
    assert "queued before" not in " ".join(bodies_sent_to(sandbox, CUSTOMER))


@pytest.mark.parametrize("body", ["START", "yes", "unstop"])
def test_start_while_subscribed_is_an_ordinary_message(app, client, body):
    from tests.conftest import inbound_payload, post_signed_webhook

    assert (
        post_signed_webhook(
            client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, body)
        ).status_code
        == 204
    )
    with app.app_context():
        outbound = db.session.scalars(select(Message).where(Message.direction == "outbound")).all()
        assert outbound == []
        assert db.session.scalars(select(ConsentEvent)).all() == []


def test_stop_wish_flags_and_never_opts_out(app, client):
    from tests.conftest import inbound_payload, post_signed_webhook

    post_signed_webhook(
        client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, "please stop texting me")
    )
    with app.app_context():
        conversation = db.session.scalar(select(Conversation))
        assert conversation.flagged and not conversation.contact.opted_out
        assert db.session.scalars(select(Message).where(Message.direction == "outbound")).all() == []


def test_concurrent_duplicate_stop_confirms_once(app, live_server, sandbox):
    import json
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.conftest import inbound_payload, signed_headers

    raw = json.dumps(inbound_payload(CUSTOMER, "STOP")).encode()
    with ThreadPoolExecutor(20) as pool:
        codes = list(
            pool.map(
                lambda _: (
                    requests.post(
                        live_server.url + "/webhooks/telefonie/inbound",
                        data=raw,
                        headers=signed_headers(raw),
                        timeout=30,
                    ).status_code
                ),
                range(20),
            )
        )
    assert codes == [204] * 20
    with app.app_context():
        outbound = db.session.scalars(select(Message).where(Message.direction == "outbound")).all()
        assert len(outbound) == 1 and outbound[0].source == "consent"
