"""/admin/reports: first-response and resolution times (median, p90) per day and agent; CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from app.accounts.models import User
from app.admin.models import ThreadEvent
from app.admin.report_data import median, p90
from app.conversations.models import Conversation, Message
from app.extensions import db
from app.types import utcnow

from .conftest import AGENT_EMAIL, EMAIL, create_account


def seed(app, make) -> None:
    """Three threads: answered by the admin in 10 and 30 minutes, by the agent in 2 hours."""
    create_account(app, AGENT_EMAIL, role="agent")
    plan = [("+14155550150", EMAIL, 10), ("+14155550151", EMAIL, 30), ("+14155550152", AGENT_EMAIL, 120)]
    for phone, who, minutes in plan:
        cid = make(phone, [("inbound", "help")], minutes_ago=180)
        with app.app_context():
            actor = db.session.scalar(select(User.id).where(User.email == who))
            began = db.session.scalar(select(Message.date_created).where(Message.conversation_id == cid))
            db.session.get(Conversation, cid).created_at = began
            db.session.add(
                ThreadEvent(
                    conversation_id=cid,
                    actor_id=actor,
                    kind="replied",
                    created_at=began + timedelta(minutes=minutes),
                )
            )
            db.session.add(
                ThreadEvent(
                    conversation_id=cid,
                    actor_id=actor,
                    kind="closed",
                    created_at=began + timedelta(minutes=minutes + 5),
                )
            )
            db.session.commit()
            db.session.remove()


def test_percentiles():
    assert median([]) is None and p90([]) is None
    assert median([1, 2, 3, 4]) == 2.5
    assert p90(list(range(1, 11))) == 9
    assert p90([5]) == 5


def test_report_page_and_numbers(app, desk, make):
    seed(app, make)
    html = desk.html("/admin/reports")
    assert "<svg" in html and "Per agent" in html
    assert EMAIL in html and AGENT_EMAIL in html
    rows = list(csv.reader(io.StringIO(desk.client.get("/admin/reports.csv?days=7").get_data(as_text=True))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["scope", "key", "opened", "closed"]
    days = [r for r in body if r[0] == "day"]
    agents = {r[1]: r for r in body if r[0] == "agent"}
    assert len(days) == 7
    assert sum(int(r[2]) for r in days) == 3  # opened
    assert sum(int(r[3]) for r in days) == 3  # closed
    admin = agents[EMAIL]
    assert admin[4] == "2"  # first responses
    assert float(admin[5]) == 20 * 60  # median of 10 and 30 minutes
    assert float(admin[6]) == 30 * 60  # p90
    assert float(admin[7]) == 25 * 60  # resolution median: 15 and 35 minutes
    assert float(agents[AGENT_EMAIL][5]) == 120 * 60


def test_report_ignores_bad_periods_and_escapes_formulas(app, desk, make):
    create_account(app, "=cmd|' /C calc'!A0@example.com", role="agent")
    cid = make("+14155550153", [("inbound", "hi")])
    with app.app_context():
        actor = db.session.scalar(select(User.id).where(User.email.like("=cmd%")))
        db.session.add(ThreadEvent(conversation_id=cid, actor_id=actor, kind="closed", created_at=utcnow()))
        db.session.commit()
        db.session.remove()
    for days in ("abc", "-1", "99999999999999999999", "٣", "5"):
        assert desk.get(f"/admin/reports?days={days}").status_code == 200
    assert desk.client.get("/admin/reports?days=%00").status_code == 400  # the desk's input guard
    text = desk.client.get("/admin/reports.csv?days=abc").get_data(as_text=True)
    assert "\n=cmd" not in text and ",=cmd" not in text and "'=cmd" in text
    response = desk.client.get("/admin/reports.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]


def test_agent_may_read_reports(agent_desk):
    assert agent_desk.get("/admin/reports").status_code == 200


def test_empty_report(desk):
    html = desk.html("/admin/reports?days=30")
    assert "No replies or closes by agents in this period." in html
