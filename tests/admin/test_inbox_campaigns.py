"""Campaign threads stay out of the support inbox until the recipient replies (issue 12, finding 1).

Real campaign dispatch, the real inbound webhook and the real API delete move a thread in and out
of the default view; the "Campaigns" filter (desk and API) shows the others.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from freezegun import freeze_time
from sqlalchemy import select

from app.campaigns import intake
from app.campaigns import service as campaigns
from app.conversations import queries
from app.conversations.models import Conversation, Message
from app.conversations.service import queue_outbound
from app.extensions import db
from tests.conftest import OUR, inbound_payload, post_signed_webhook

NOON_NY = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
SUPPORT = "+12125550100"  # texted us before the campaign
QUIET = "+12125550101"  # never answers
REPLIER = "+12125550102"  # answers the campaign


def rows_in(html: str) -> list[str]:
    return re.findall(r'<li class="thread-row[^"]*" data-id="(\d+)"', html)


def thread_of(app, phone: str) -> int:
    with app.app_context():
        cid = db.session.scalar(
            select(Message.conversation_id).where(
                (Message.to_number == phone) | (Message.from_number == phone)
            )
        )
        db.session.remove()
    return cid


def run_campaign(app, make) -> dict[str, int]:
    support = make(SUPPORT, [("inbound", "Where is my parcel?")], minutes_ago=60 * 24 * 365)
    with app.app_context():
        with freeze_time(NOON_NY):
            intake.create(
                {
                    "name": "July sale",
                    "from": OUR,
                    "body": "Sale today",
                    "recipients": [SUPPORT, QUIET, REPLIER],
                    "rate_per_minute": 6000,
                }
            )
            db.session.commit()
        with freeze_time(NOON_NY):
            assert campaigns.dispatch(NOON_NY) == 3
        db.session.remove()
    return {"support": support, "quiet": thread_of(app, QUIET), "replier": thread_of(app, REPLIER)}


def test_campaign_only_threads_are_hidden_until_a_reply(app, client, desk, make):
    ids = run_campaign(app, make)
    assert rows_in(desk.html("/admin/")) == [str(ids["support"])]
    assert sorted(rows_in(desk.html("/admin/?filter=campaigns"))) == sorted(
        [str(ids["quiet"]), str(ids["replier"])]
    )
    assert "Campaigns" in desk.html("/admin/")
    polled = desk.get("/admin/inbox.json").get_json()
    assert [c["id"] for c in polled["conversations"]] == [ids["support"]]

    reply = post_signed_webhook(
        client, "/webhooks/telefonie/inbound", inbound_payload(REPLIER, "Is it 20% off?")
    )
    assert reply.status_code == 204
    assert rows_in(desk.html("/admin/")) == [str(ids["replier"]), str(ids["support"])]
    assert rows_in(desk.html("/admin/?filter=campaigns")) == [str(ids["quiet"])]
    assert rows_in(desk.html("/admin/?filter=campaigns,unread")) == []


def test_an_agent_reply_makes_it_a_support_thread(app, desk, make):
    ids = run_campaign(app, make)
    with app.app_context():
        queue_outbound(db.session.get(Conversation, ids["quiet"]), "Any questions?", source="agent")
        db.session.commit()
        db.session.remove()
    assert str(ids["quiet"]) in rows_in(desk.html("/admin/"))
    assert str(ids["quiet"]) not in rows_in(desk.html("/admin/?filter=campaigns"))


def test_api_filter_campaigns_and_delete_of_the_reply(app, client, api, make):
    ids = run_campaign(app, make)
    listed = api("GET", "/api/v1/conversations").get_json()["conversations"]
    assert [c["id"] for c in listed] == [ids["support"]]
    listed = api("GET", "/api/v1/conversations?filter=campaigns").get_json()["conversations"]
    assert sorted(c["id"] for c in listed) == sorted([ids["quiet"], ids["replier"]])
    assert api("GET", "/api/v1/conversations?filter=campaigns,open").status_code == 200

    post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(REPLIER, "Stop by today?"))
    listed = api("GET", "/api/v1/conversations").get_json()["conversations"]
    assert ids["replier"] in [c["id"] for c in listed]
    with app.app_context():
        sid = db.session.scalar(select(Message.sid).where(Message.from_number == REPLIER))
        db.session.remove()
    assert api("DELETE", f"/api/v1/messages/{sid}").status_code == 204
    listed = api("GET", "/api/v1/conversations").get_json()["conversations"]
    assert ids["replier"] not in [c["id"] for c in listed]


def test_hiding_costs_no_subquery():
    """The default view and the filter are a plain column test on the keyset index, no EXISTS."""
    for filters in ((), ("campaigns",), ("open", "campaigns")):
        sql = str(queries.inbox(filters=filters)).upper()
        assert "EXISTS" not in sql and "CAMPAIGN_ONLY" in sql, sql
