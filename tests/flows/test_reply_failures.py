"""Issue 11, findings 1 and 2 end to end: an inbound message or a STOP is stored and acted on
whatever its reply does; a rule whose reply fails is disabled with the reason shown."""

from __future__ import annotations

from sqlalchemy import select

from app import settings
from app.consent.models import ConsentEvent
from app.conversations.models import Contact, Conversation, Message
from app.extensions import db
from app.rules.models import Rule, RuleHit
from app.telefonie import segments
from tests.admin import conftest as admin_fixtures
from tests.conftest import inbound_payload, post_signed_webhook

agent, desk = admin_fixtures.agent, admin_fixtures.desk  # a signed-in desk, as in tests/admin

CUSTOMER = "+14155550181"
INBOUND = "/webhooks/telefonie/inbound"
CJK = "漢" * 700


def make_rule(api, **fields) -> dict:
    data = {"name": "r", "match": "first_word", "patterns": ["order"], "reply": "ok", **fields}
    resp = api("POST", "/api/v1/rules", json=data)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def thread(query, phone: str = CUSTOMER) -> dict:
    def load():
        conversation = db.session.scalar(
            select(Conversation).join(Contact).where(Contact.phone == phone)
        )
        messages = db.session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        )
        return {
            "flagged": conversation.flagged,
            "flag_reason": conversation.flag_reason,
            "opted_out": conversation.contact.opted_out,
            "messages": [(m.direction, m.source, m.body, m.num_segments) for m in messages],
        }

    return query(load)


def test_an_overlong_rule_reply_is_cut_and_the_message_kept(api, client, query, desk):
    make_rule(api, reply="Thanks, we got: {{ message.body }}")
    resp = post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, "order " + CJK))
    assert resp.status_code == 204, resp.get_data(as_text=True)
    seen = thread(query)
    inbound, reply = seen["messages"]
    assert inbound[:3] == ("inbound", "provider", "order " + CJK)
    assert reply[0:2] == ("outbound", "rule") and reply[3] == segments.MAX_SEGMENTS
    assert reply[2].startswith("Thanks, we got: order 漢") and reply[2].endswith("...")
    assert seen["flagged"] and "cut to 10" in seen["flag_reason"]
    conversation_id = query(lambda: db.session.scalar(select(Conversation.id)))
    assert "cut to 10" in desk.html(f"/admin/conversations/{conversation_id}")  # visible in the thread


def test_stop_opts_out_even_when_the_stored_confirmation_is_too_long(client, query, app):
    """A stop_text saved before lengths were checked (or written straight to the table)."""
    with app.app_context():
        settings.put("brand", "B" * 60)
        settings.put("stop_text", "{brand}" * 67 + " START")
        db.session.commit()
        db.session.remove()
    resp = post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, "STOP"))
    assert resp.status_code == 204, resp.get_data(as_text=True)
    seen = thread(query)
    assert seen["opted_out"] is True
    assert query(lambda: db.session.scalar(select(ConsentEvent.action))) == "opt_out"
    (_inbound, confirmation) = seen["messages"]
    assert confirmation[1] == "consent" and confirmation[3] <= segments.MAX_SEGMENTS
    assert seen["flagged"]


def test_a_reply_that_hits_a_limit_disables_its_rule_with_the_reason(api, client, query, desk):
    hidden = (
        "{% if message.body == 'order boom' %}{{ dict.fromkeys(range(1000), 'x' * 100) }}"
        "{% else %}ok{% endif %}"
    )
    rule = make_rule(api, reply=hidden)  # the sample renders "ok": save-time checks cannot see the branch
    assert rule["disabled_reason"] is None
    for _ in range(2):
        resp = post_signed_webhook(client, INBOUND, inbound_payload(CUSTOMER, "order boom"))
        assert resp.status_code == 204
    shown = api("GET", f"/api/v1/rules/{rule['id']}").get_json()
    assert shown["enabled"] is False
    assert "limited to 10000" in shown["disabled_reason"]
    assert "limited to 10000" in desk.html("/admin/rules")
    hits = query(lambda: [(h.sent, h.note) for h in db.session.scalars(select(RuleHit))])
    assert len(hits) == 1 and hits[0][0] is False  # tried once, never again
    assert [m[0] for m in thread(query)["messages"]] == ["inbound", "inbound"]  # both stored
    enabled = api("PATCH", f"/api/v1/rules/{rule['id']}", json={"enabled": True}).get_json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    assert query(lambda: db.session.get(Rule, rule["id"]).disabled_reason) is None
