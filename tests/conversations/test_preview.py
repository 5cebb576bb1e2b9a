"""Thread previews: the latest message with its direction ("You: " for ours), never a deleted one."""

from __future__ import annotations

from sqlalchemy import select

from app.conversations.models import Conversation
from app.extensions import db
from tests.conftest import OUR, inbound_payload, post_signed_webhook

CUSTOMER = "+14155550231"


def preview(query) -> str | None:
    return query(lambda: db.session.scalar(select(Conversation.last_message_preview)))


def test_outbound_preview_is_marked_and_inbound_is_not(client, api, query):
    assert (
        post_signed_webhook(
            client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, "Where is my order?")
        ).status_code
        == 204
    )
    assert preview(query) == "Where is my order?"
    sent = api("POST", "/api/v1/messages", json={"to": CUSTOMER, "from": OUR, "body": "It ships today."})
    assert sent.status_code == 201, sent.get_json()
    assert preview(query) == "You: It ships today."


def test_deleting_the_latest_message_previews_the_one_before(client, api, query):
    post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(CUSTOMER, "Question?"))
    sid = api("POST", "/api/v1/messages", json={"to": CUSTOMER, "from": OUR, "body": "Answer."}).get_json()[
        "id"
    ]
    assert preview(query) == "You: Answer."
    assert api("DELETE", f"/api/v1/messages/{sid}").status_code == 204
    assert preview(query) == "Question?"
    inbound_sid = api("GET", "/api/v1/messages").get_json()["messages"][0]["id"]
    assert api("DELETE", f"/api/v1/messages/{inbound_sid}").status_code == 204
    assert preview(query) is None  # no message left: no preview, never a deleted one
