"""Overview: messages per day in and out, and the delivery rate."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.conversations.models import Message
from app.extensions import db
from app.types import utcnow


def test_overview_counts_and_chart(desk, make, query):
    make("+14155550101", [("inbound", "a"), ("outbound", "b"), ("outbound", "c"), ("inbound", "d")])

    def shape():
        first = db.session.scalar(select(Message).where(Message.body == "c"))
        first.status = "failed"
        db.session.execute(
            update(Message).where(Message.body == "d").values(date_created=utcnow() - timedelta(days=3))
        )
        db.session.execute(
            update(Message).where(Message.body == "a").values(date_created=utcnow() - timedelta(days=30))
        )
        db.session.commit()

    query(shape)
    html = desk.html("/admin/overview")
    assert "<svg" in html and 'class="bar bar-in"' in html and 'class="bar bar-out"' in html
    assert '<span class="stat-value">1</span><span class="stat-label">messages in</span>' in html
    assert '<span class="stat-value">2</span><span class="stat-label">messages out</span>' in html
    assert "50.0%" in html and "delivered (1 of 2 finished)" in html
    today = utcnow().date().isoformat()
    assert f"<td>{today}</td><td>0</td><td>2</td><td>1</td><td>1</td>" in html


def test_overview_empty(desk):
    html = desk.html("/admin/overview")
    assert "–" in html and html.count('class="bar bar-in"') == 14
