"""dispatch(): rate per rolling minute, quiet hours, opted-out recipients, pause, cancel, completion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from app.campaigns import service
from app.campaigns.models import Campaign, CampaignRecipient
from app.conversations.models import Message
from app.conversations.service import get_or_create_contact
from app.extensions import db
from tests.conftest import OUR

NOON_NY = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # 12:00 New York, 09:00 Los Angeles
NY = [f"+1212555{n:04d}" for n in range(100, 110)]


@pytest.fixture
def ctx(app_ctx):
    yield


def make(recipients, rate=60, body="Sale today") -> int:
    campaign = service.create("test", OUR, body, [], recipients, rate)
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


def messages_to(phone: str) -> int:
    return db.session.scalar(select(func.count()).where(Message.to_number == phone))


def test_queues_messages_with_source_campaign(ctx) -> None:
    cid = make(NY[:2])
    assert dispatch_at(NOON_NY) == 2
    rows = recipients(cid)
    for phone in NY[:2]:
        assert rows[phone].outcome == "queued"
        assert rows[phone].queued_at == NOON_NY
        message = db.session.get(Message, rows[phone].message_id)
        assert message.source == "campaign"
        assert message.status == "queued"
        assert message.from_number == OUR
        assert message.body == "Sale today"
    assert campaign(cid).status == "completed"
    counts = service.counts(campaign(cid))
    assert counts["queued"] == 2 and counts["pending"] == 0
    assert counts["messages"]["queued"] == 2


def test_opted_out_recipient_is_skipped_and_counted(ctx) -> None:
    contact = get_or_create_contact(NY[1])
    contact.opted_out = True
    db.session.commit()
    cid = make(NY[:3])
    assert dispatch_at(NOON_NY) == 2
    rows = recipients(cid)
    assert rows[NY[1]].outcome == "skipped_opted_out"
    assert rows[NY[1]].message_id is None and rows[NY[1]].queued_at is None
    assert messages_to(NY[1]) == 0
    counts = service.counts(campaign(cid))
    assert counts["skipped_opted_out"] == 1 and counts["queued"] == 2
    assert campaign(cid).status == "completed"


def test_nothing_queued_at_three_in_the_morning(ctx) -> None:
    cid = make([NY[0], "+13105550100"])  # New York and Los Angeles
    three_am_ny = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert dispatch_at(three_am_ny) == 0
    rows = recipients(cid)
    assert rows[NY[0]].outcome == "pending"
    assert rows[NY[0]].not_before == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 08:00 New York
    assert rows["+13105550100"].not_before == datetime(2026, 7, 1, 15, 0, tzinfo=UTC)  # 08:00 LA
    assert campaign(cid).status == "running"
    assert dispatch_at(datetime(2026, 7, 1, 11, 59, tzinfo=UTC)) == 0
    assert dispatch_at(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == 1  # New York opens
    assert recipients(cid)[NY[0]].outcome == "queued"
    assert dispatch_at(datetime(2026, 7, 1, 14, 0, tzinfo=UTC)) == 0  # 07:00 in Los Angeles
    assert dispatch_at(datetime(2026, 7, 1, 15, 0, tzinfo=UTC)) == 1
    assert campaign(cid).status == "completed"


def test_florida_waits_while_georgia_goes(ctx) -> None:
    florida, georgia = "+13055550100", "+14045550100"
    cid = make([florida, georgia])
    assert dispatch_at(datetime(2026, 7, 2, 0, 30, tzinfo=UTC)) == 1  # 20:30 Eastern
    rows = recipients(cid)
    assert rows[georgia].outcome == "queued"
    assert rows[florida].outcome == "pending"
    assert rows[florida].not_before == datetime(2026, 7, 2, 12, 0, tzinfo=UTC)


def test_rate_per_rolling_minute(ctx) -> None:
    cid = make(NY[:5], rate=2)
    assert dispatch_at(NOON_NY) == 2
    assert dispatch_at(NOON_NY + timedelta(seconds=1)) == 0
    assert dispatch_at(NOON_NY + timedelta(seconds=59)) == 0
    assert dispatch_at(NOON_NY + timedelta(seconds=60)) == 2
    assert dispatch_at(NOON_NY + timedelta(seconds=90)) == 0
    assert campaign(cid).status == "running"
    assert dispatch_at(NOON_NY + timedelta(seconds=121)) == 1
    assert campaign(cid).status == "completed"
    assert [r.outcome for r in recipients(cid).values()] == ["queued"] * 5
    assert db.session.scalar(select(func.count()).select_from(Message)) == 5


def test_pause_holds_and_resume_continues(ctx) -> None:
    cid = make(NY[:3], rate=1)
    assert dispatch_at(NOON_NY) == 1
    service.pause(campaign(cid))
    db.session.commit()
    assert dispatch_at(NOON_NY + timedelta(minutes=5)) == 0
    assert campaign(cid).status == "paused"
    assert service.counts(campaign(cid))["pending"] == 2
    service.resume(campaign(cid))
    db.session.commit()
    assert dispatch_at(NOON_NY + timedelta(minutes=6)) == 1


def test_cancel_stops(ctx) -> None:
    cid = make(NY[:3], rate=1)
    assert dispatch_at(NOON_NY) == 1
    service.cancel(campaign(cid))
    db.session.commit()
    assert dispatch_at(NOON_NY + timedelta(minutes=5)) == 0
    counts = service.counts(campaign(cid))
    assert counts["queued"] == 1 and counts["cancelled"] == 2 and counts["pending"] == 0
    assert campaign(cid).status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_invalid_transitions(ctx) -> None:
    cid = make(NY[:1])
    assert dispatch_at(NOON_NY) == 1
    assert campaign(cid).status == "completed"
    for action in (service.pause, service.resume, service.cancel):
        with pytest.raises(service.InvalidTransition):
            action(campaign(cid))
        db.session.rollback()


def test_campaigns_are_paced_independently(ctx) -> None:
    first = make(NY[:3], rate=1)
    second = make(NY[3:6], rate=2)
    assert dispatch_at(NOON_NY) == 3
    assert service.counts(campaign(first))["queued"] == 1
    assert service.counts(campaign(second))["queued"] == 2


def test_a_recipient_in_two_campaigns_gets_both(ctx) -> None:
    make(NY[:1])
    make(NY[:1])
    assert dispatch_at(NOON_NY) == 2
    assert messages_to(NY[0]) == 2


def test_repeated_dispatch_never_requeues(ctx) -> None:
    make(NY[:4], rate=100)
    assert dispatch_at(NOON_NY) == 4
    for minutes in range(1, 4):
        assert dispatch_at(NOON_NY + timedelta(minutes=minutes)) == 0
    assert db.session.scalar(select(func.count()).select_from(Message)) == 4


def test_two_dispatchers_never_queue_one_recipient_twice(app) -> None:
    """Several workers dispatch at once: every recipient gets exactly one message."""
    import threading

    phones = [f"+1212555{n:04d}" for n in range(200, 260)]
    with app.app_context():
        cid = make(phones, rate=6000)
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
        with freeze_time(NOON_NY):
            service.dispatch(NOON_NY)  # whatever a locked-out SQLite writer left
        rows = db.session.execute(select(Message.to_number, func.count()).group_by(Message.to_number)).all()
        assert sorted(rows) == [(phone, 1) for phone in phones]
        assert campaign(cid).status == "completed"
        db.session.remove()
