"""Hostile input through the one-statement paths: a clear 4xx or a stored message, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.conftest import inbound_payload, post_signed_webhook

CUSTOMER = "+14155550241"


@pytest.mark.parametrize(
    "body",
    [
        "'); DROP TABLE messages; --",
        "<script>alert(1)</script>",
        "NUL \u0000 inside",
        "lone \ud800 surrogate",
        "ünïcödé ✓ 👍 " * 20,
        "x" * 1600,
    ],
)
def test_hostile_bodies_answer_204_or_400(client, body):
    raw = json.dumps(inbound_payload(CUSTOMER, body))  # ensure_ascii: \\u0000 and \\ud800 escapes
    resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", raw)
    assert resp.status_code in (204, 400), resp.get_data(as_text=True)


def test_concurrent_duplicates_of_a_new_sender_store_one_contact_thread_and_message(app, client, query):
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from app.conversations.models import Contact, Conversation, Message
    from app.extensions import db

    payloads = [inbound_payload(f"+1415555{5000 + i:04d}", "hello", pid=f"TF-dup-{i}") for i in range(5)]
    jobs = [p for p in payloads for _ in range(4)]

    def post(payload):
        with app.test_client() as c:
            return post_signed_webhook(c, "/webhooks/telefonie/inbound", payload).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, jobs))
    assert codes == [204] * len(jobs)
    counts = query(lambda: (
        db.session.scalar(select(func.count()).select_from(Contact)),
        db.session.scalar(select(func.count()).select_from(Conversation)),
        db.session.scalar(select(func.count()).select_from(Message)),
        db.session.scalar(select(func.max(Conversation.unread_count))),
    ))
    assert counts == (5, 5, 5, 1)
