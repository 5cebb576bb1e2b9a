"""dispatch(): slots per sender, quiet hours, opted-out recipients, STOP mid-campaign, sender pool,
pause, cancel (withdrawing queued messages), replies, completion, concurrent dispatchers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, update

from app.campaigns import intake, service
from app.campaigns.models import Campaign, CampaignRecipient
from app.consent import service as consent
from app.conversations.models import Message
from app.conversations.service import get_or_create_contact, get_or_create_conversation
from app.extensions import db
from tests.conftest import OUR

NOON_NY = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # 12:00 New York, 09:00 Los Angeles
NY = [f"+1212555{n:04d}" for n in range(100, 110)]


@pytest.fixture
def ctx(app_ctx):
    yield


def make(recipients, rate=60, body="Sale today", at=NOON_NY, **extra) -> int:
    with freeze_time(at):
        campaign = intake.create(
            {
                "name": "test",
                "from": extra.pop("from_", OUR),
                "body": body,
                "recipients": recipients,
                "rate_per_minute": rate,
                **extra,
            }
        )
        db.session.commit()
    return campaign.id


def dispatch_at(at: datetime) -> int:
    with freeze_time(at):
        return service.dispatch(at)


def campaign(cid: int) -> Campaign:
    db.session.expire_all()
    return db.session.get(Campaign, cid)


def recipients(cid: int) -> dict[str, CampaignRecipient]:
    db.session.expire_all()
    rows = db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == cid))
    return {r.phone: r for r in rows}


def messages_to(phone: str) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.to_number == phone)))


def hand_to_provider(status: str = "sent") -> None:
    """What the worker does: the provider accepted every queued message."""
    db.session.execute(
        update(Message)
        .where(Message.status == "queued", Message.provider_id.is_(None))
        .values(status=status, provider_id=Message.sid)
    )
    db.session.commit()


def test_queues_personalised_messages_with_campaign_id(ctx) -> None:
    cid = make(
        [{"phone": NY[0], "name": "Ann", "fields": {"city": "Paris"}}, NY[1]],
        body="Hi {{ name }}! {{ fields.city }} {{ fields.none }}sale for {{ phone }}",
    )
    assert dispatch_at(NOON_NY) == 2
    rows = recipients(cid)
    first = db.session.get(Message, rows[NY[0]].message_id)
    assert first.body == "Hi Ann! Paris sale for +12125550100"
    assert first.source == "campaign" and first.status == "queued" and first.campaign_id == cid
    assert first.from_number == OUR
    assert db.session.get(Message, rows[NY[1]].message_id).body == "Hi ! sale for +12125550101"
    assert get_or_create_contact(NY[0]).name == "Ann"  # a new contact gets the list's name
    counts = service.counts(cid)
    assert counts["queued"] == 2 and counts["pending"] == 0 and counts["total"] == 2
    assert campaign(cid).status == "running"  # messages not yet handed to the provider
    hand_to_provider()
    dispatch_at(NOON_NY + timedelta(seconds=5))
    assert campaign(cid).status == "completed"
    assert service.counts(cid)["sent"] == 2


def test_slots_spread_evenly_over_the_minute(ctx) -> None:
    cid = make(NY[:6], rate=6)  # one slot every 10 s
    total = 0
    for second in range(0, 61, 1):
        total += dispatch_at(NOON_NY + timedelta(seconds=second))
    assert total == 6  # slots at 0, 10, ..., 50 s; the next one (60 s) had no one left
    slots = sorted(r.queued_at for r in recipients(cid).values())
    assert [(s - NOON_NY).total_seconds() for s in slots] == [0, 10, 20, 30, 40, 50]
    due = sorted(m.next_attempt_at for m in db.session.scalars(select(Message)))
    assert due == slots  # the worker sends each in its slot, not when it was queued


def test_no_catching_up_after_a_pause(ctx) -> None:
    cid = make(NY[:5], rate=60)
    assert dispatch_at(NOON_NY) == 2  # slots at 0 and 1 s (queued up to 2 s ahead)
    service.pause(campaign(cid))
    db.session.commit()
    assert dispatch_at(NOON_NY + timedelta(minutes=5)) == 0
    service.resume(campaign(cid))
    db.session.commit()
    later = NOON_NY + timedelta(minutes=10)
    assert dispatch_at(later) == 2  # not a burst of the 600 slots missed
    assert sorted(r.queued_at for r in recipients(cid).values() if r.queued_at)[-2:] == [
        later,
        later + timedelta(seconds=1),
    ]


def test_opted_out_recipient_is_skipped_and_counted(ctx) -> None:
    cid = make(NY[:3])
    get_or_create_contact(NY[1]).opted_out = True  # after creation, before its turn
    db.session.commit()
    assert dispatch_at(NOON_NY) == 2
    assert recipients(cid)[NY[1]].outcome == "skipped_opted_out"
    assert messages_to(NY[1]) == []
    assert service.counts(cid)["skipped_opted_out"] == 1


def test_stop_while_queued_withdraws_the_message(ctx) -> None:
    cid = make(NY[:2], rate=1)
    assert dispatch_at(NOON_NY) == 1
    contact = get_or_create_contact(NY[0])
    consent.opt_out(contact, source="keyword", reason="STOP")
    db.session.commit()
    message = messages_to(NY[0])[0]
    assert message.status == "failed" and message.error_code == 21610
    counts = service.counts(cid)
    assert counts["skipped_opted_out"] == 1 and counts["queued"] == 0 and counts["pending"] == 1


def test_nothing_queued_at_three_in_the_morning(ctx) -> None:
    cid = make([NY[0], "+13105550100"])  # New York and Los Angeles
    three_am_ny = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert dispatch_at(three_am_ny) == 0
    rows = recipients(cid)
    assert rows[NY[0]].outcome == "pending"
    assert rows[NY[0]].not_before == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 08:00 New York
    assert rows["+13105550100"].not_before == datetime(2026, 7, 1, 15, 0, tzinfo=UTC)  # 08:00 LA
    assert dispatch_at(datetime(2026, 7, 1, 11, 59, tzinfo=UTC)) == 0
    assert dispatch_at(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == 1  # New York opens
    assert dispatch_at(datetime(2026, 7, 1, 14, 0, tzinfo=UTC)) == 0  # 07:00 in Los Angeles
    assert dispatch_at(datetime(2026, 7, 1, 15, 0, tzinfo=UTC)) == 1


def test_honolulu_and_new_york_at_the_same_instant_across_dst(ctx) -> None:
    honolulu, new_york = "+18085550100", "+12125550100"
    # 2026-03-08 is the US DST change; Hawaii has none. 13:30 UTC is 09:30 EDT but 03:30 in Honolulu.
    at = datetime(2026, 3, 8, 13, 30, tzinfo=UTC)
    cid = make([honolulu, new_york], at=at)
    assert dispatch_at(at) == 1
    rows = recipients(cid)
    assert rows[new_york].outcome == "queued"
    assert rows[honolulu].not_before == datetime(2026, 3, 8, 18, 0, tzinfo=UTC)  # 08:00 HST


def test_scheduled_campaign_waits_for_send_at(ctx) -> None:
    cid = make(NY[:1], send_at=(NOON_NY + timedelta(hours=1)).isoformat(), at=NOON_NY)
    assert campaign(cid).status == "scheduled"
    assert dispatch_at(NOON_NY + timedelta(minutes=59)) == 0
    assert dispatch_at(NOON_NY + timedelta(hours=1)) == 1
    assert campaign(cid).status == "running"


def test_sender_pool_sticky_then_area_code_then_in_turn(ctx) -> None:
    pool = ["+12125550199", "+13105550199", "+14155550199"]
    sticky = "+12125550150"  # New York, but already talks to our San Francisco number
    get_or_create_conversation(pool[2], get_or_create_contact(sticky))
    db.session.commit()
    la, others = "+13105550150", ["+17135550150", "+17135550151", "+17135550152"]
    cid = make([sticky, la, "+12125550151", *others], from_=pool, rate=600)
    rows = recipients(cid)
    assert rows[sticky].from_number == pool[2]
    assert rows[la].from_number == pool[1]
    assert rows["+12125550151"].from_number == pool[0]
    assert [rows[n].from_number for n in others] == pool  # Houston: no match, in turn
    dispatch_at(NOON_NY)
    assert messages_to(sticky)[0].from_number == pool[2]


def test_rate_is_per_sender_number(ctx) -> None:
    pool = ["+12125550199", "+13105550199"]
    cid = make([*NY[:4], "+13105550150", "+13105550151", "+13105550152"], from_=pool, rate=30)
    assert dispatch_at(NOON_NY) == 2  # one slot each: every 2 s per number
    by_sender = {}
    for r in recipients(cid).values():
        if r.outcome == "queued":
            by_sender[r.from_number] = by_sender.get(r.from_number, 0) + 1
    assert by_sender == {pool[0]: 1, pool[1]: 1}


def test_cancel_withdraws_queued_unsent_messages(ctx) -> None:
    cid = make(NY[:4], rate=60)
    assert dispatch_at(NOON_NY) == 2
    first, second = (messages_to(n)[0] for n in NY[:2])
    first.provider_id, first.status = "TF1", "sent"  # already with the provider
    db.session.commit()
    service.cancel(campaign(cid))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Message, second.id).status == "failed"
    assert "cancelled" in db.session.get(Message, second.id).error_message
    counts = service.counts(cid)
    assert counts["cancelled"] == 3 and counts["sent"] == 1 and counts["total"] == 4
    assert dispatch_at(NOON_NY + timedelta(minutes=5)) == 0
    assert campaign(cid).status == "cancelled"


def test_invalid_transitions(ctx) -> None:
    cid = make(NY[:1])
    with pytest.raises(service.InvalidTransition):
        service.resume(campaign(cid))
    db.session.rollback()
    service.cancel(campaign(cid))
    db.session.commit()
    for action in (service.pause, service.resume, service.cancel):
        with pytest.raises(service.InvalidTransition):
            action(campaign(cid))
        db.session.rollback()


def test_replies_count_recipients_who_texted_back_after(ctx) -> None:
    from app.conversations.models import Conversation

    cid = make(NY[:3], rate=600)
    dispatch_at(NOON_NY)
    for phone in (NY[0], NY[0], NY[1]):
        conversation = db.session.scalar(
            select(Conversation).where(Conversation.contact_id == get_or_create_contact(phone).id)
        )
        db.session.add(
            Message(
                conversation_id=conversation.id,
                direction="inbound",
                status="received",
                from_number=phone,
                to_number=OUR,
                body="thanks",
                provider_id=None,
            )
        )
    db.session.commit()
    assert service.counts(cid)["replies"] == 2


def test_a_recipient_in_two_campaigns_gets_both(ctx) -> None:
    make(NY[:1])
    make(NY[:1])
    assert dispatch_at(NOON_NY) == 2
    assert len(messages_to(NY[0])) == 2


def test_repeated_dispatch_never_requeues(ctx) -> None:
    make(NY[:4], rate=6000)
    assert dispatch_at(NOON_NY) == 4
    for minutes in range(1, 4):
        assert dispatch_at(NOON_NY + timedelta(minutes=minutes)) == 0
    assert db.session.scalar(select(func.count()).select_from(Message)) == 4


def test_two_dispatchers_never_queue_one_recipient_twice(app) -> None:
    phones = [f"+1212555{n:04d}" for n in range(200, 260)]
    with app.app_context():
        make(phones, rate=6000)
        db.session.remove()
    barrier = threading.Barrier(3)

    def run() -> None:
        with app.app_context():
            barrier.wait()
            for _ in range(3):
                service.dispatch(NOON_NY)
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with app.app_context():
        service.dispatch(NOON_NY + timedelta(seconds=3))  # whatever a locked-out SQLite writer left
        rows = db.session.execute(select(Message.to_number, func.count()).group_by(Message.to_number)).all()
        assert sorted(rows) == [(phone, 1) for phone in phones]
        db.session.remove()
