"""A rule's reply: the one-statement path (PostgreSQL: a reply, perhaps tags) and the general path
(close or assign actions, a reply cut to fit, SQLite) leave the same rows, and both refuse a
contact opted out in between."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.consent.guard import OptedOut
from app.conversations.inbound import StoredInbound
from app.conversations.models import Contact, Conversation, Message
from app.extensions import db
from app.rules import service as rules
from app.rules.models import RuleHit
from app.types import utcnow
from tests.conftest import OUR, inbound_payload, post_signed_webhook

CUSTOMER = "+14155550172"


def make_rule(api, **fields):
    data = {"name": "r " + fields["patterns"][0], "match": "first_word", "reply": "We open at 9", **fields}
    resp = api("POST", "/api/v1/rules", json=data)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def text_in(client, body, frm=CUSTOMER):
    resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(frm, body))
    assert resp.status_code == 204


def reply_rows(app, phone=CUSTOMER):
    """(the reply's fields, the thread's preview, the rule hit's fields) for one customer."""
    with app.app_context():
        conversation = db.session.scalar(
            select(Conversation).join(Contact).where(Contact.phone == phone, Conversation.our_number == OUR)
        )
        replies = db.session.scalars(
            select(Message).where(Message.conversation_id == conversation.id, Message.direction == "outbound")
        ).all()
        inbound = db.session.scalars(
            select(Message.id).where(
                Message.conversation_id == conversation.id, Message.direction == "inbound"
            )
        ).all()
        hits = db.session.scalars(select(RuleHit).where(RuleHit.conversation_id == conversation.id)).all()
        out = (
            [
                (m.status, m.from_number, m.to_number == phone, m.body, m.source, m.encoding, m.num_segments,
                 m.provider_id, m.attempts, m.next_attempt_at is not None, m.sid.startswith("SM"))
                for m in replies
            ],
            conversation.last_message_preview,
            conversation.tags,
            [(h.sent, h.note, h.message_id in inbound, h.created_at is not None) for h in hits],
        )
        db.session.remove()
        return out


@pytest.fixture
def general_path_only(monkeypatch):
    def force():
        monkeypatch.setattr(rules, "_plain_reply", lambda decision: False)

    return force


@pytest.mark.parametrize("tags", [[], ["Prices", "vip"]], ids=["plain", "tags"])
def test_both_paths_leave_the_same_rows(app, client, api, general_path_only, tags):
    make_rule(api, patterns=["HOURS"], reply="We open at 9 ☀", tags=tags)
    with app.app_context():  # a thread that has a tag already, in another spelling
        text_in(client, "hello", frm=CUSTOMER)
        text_in(client, "hello", frm="+14155550173")
        db.session.execute(update(Conversation).values(tags=["VIP"]))
        db.session.commit()
        db.session.remove()
    text_in(client, "hours please", frm=CUSTOMER)  # one statement on PostgreSQL
    general_path_only()
    text_in(client, "hours please", frm="+14155550173")
    fast, general = reply_rows(app, CUSTOMER), reply_rows(app, "+14155550173")
    assert fast == general
    messages, preview, thread_tags, hits = fast
    assert messages == [("queued", OUR, True, "We open at 9 ☀", "rule", "UCS-2", 1, None, 0, True, True)]
    assert preview == "You: We open at 9 ☀"
    assert thread_tags == (["VIP", "Prices"] if tags else ["VIP"])
    assert hits == [(True, None, True, True)]


@pytest.mark.parametrize("general", [False, True], ids=["fast", "general"])
def test_the_loop_guard_holds_on_both_paths(app, client, api, general_path_only, general):
    with app.app_context():
        limit = int(rules.settings.get_all()["loop_guard_max"])
        db.session.remove()
    make_rule(api, patterns=["PING"], reply="pong", tags=["t"])
    if general:
        general_path_only()
    for _ in range(limit + 2):
        text_in(client, "ping")
    messages, _, thread_tags, hits = reply_rows(app)
    assert [m[3] for m in messages] == ["pong"] * limit
    assert thread_tags == ["t"]
    assert [h[:2] for h in hits] == [(True, None)] * limit + [(False, rules.LOOP_GUARD_NOTE)] * 2


@pytest.mark.parametrize("general", [False, True], ids=["fast", "general"])
def test_a_contact_opted_out_after_the_message_was_stored_gets_nothing(app, client, api, general_path_only,
                                                                          general):
    """STOP committed by another request between storing this message and answering it: the reply
    is refused (OptedOut, which the pipeline logs) and neither a message nor a hit is written."""
    make_rule(api, patterns=["HOURS"], reply="We open at 9", tags=["t"])
    if general:
        general_path_only()
    text_in(client, "hello")  # contact and thread exist, no rule matched
    with app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.phone == CUSTOMER))
        conversation = db.session.scalar(select(Conversation).where(Conversation.contact_id == contact.id))
        inbound_id = db.session.scalar(select(Message.id).where(Message.conversation_id == conversation.id))
        contact.opted_out = True
        db.session.commit()
        stored = StoredInbound(
            id=inbound_id, conversation_id=conversation.id, contact_id=contact.id, from_number=CUSTOMER,
            to_number=OUR, body="hours", opted_out=False, contact_name=None, date_created=utcnow(),
        )
        with pytest.raises(OptedOut):
            rules.respond(stored)
        db.session.commit()
        db.session.remove()
    messages, _, thread_tags, hits = reply_rows(app)
    assert messages == [] and hits == [] and thread_tags == []
