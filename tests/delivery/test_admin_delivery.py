"""/admin/delivery: circuit state, queue depth and age, retries by cause; strict CSP, no script."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.conversations.models import Message
from app.delivery.attempt import count_retry
from app.delivery.circuit import NAME
from app.delivery.models import Circuit
from app.extensions import db
from app.types import utcnow
from tests.admin.conftest import EMAIL, PASSWORD, Desk, sign_in
from tests.delivery.test_worker import queue


@pytest.fixture
def desk(client, app):
    from app.accounts.service import create_user

    with app.app_context():
        create_user(EMAIL, PASSWORD, name="Agent")
        db.session.commit()
        db.session.remove()
    assert sign_in(client).status_code == 302
    return Desk(client)


def test_delivery_page_shows_circuit_queue_and_retries(app, desk):
    ids = [queue(app, f"+1415555{4000 + i:04d}", body=f"q {i}") for i in range(3)]
    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.id == ids[0])
            .values(date_created=utcnow() - timedelta(minutes=5), attempts=2, outcome_unknown=True)
        )
        db.session.add(
            Circuit(
                name=NAME,
                state="open",
                failures=7,
                cooldown=4.0,
                opened_at=utcnow(),
                retry_at=utcnow() + timedelta(seconds=4),
                last_error="connection_refused: <script>alert(1)</script>",
                updated_at=utcnow(),
            )
        )
        db.session.commit()
        count_retry("connection_refused", "connection_refused: the provider refused the connection")
        count_retry("connection_refused", "connection_refused: the provider refused the connection")
        count_retry("read_timeout", "read_timeout: no answer within 10 s")
        db.session.remove()
    response = desk.get("/admin/delivery")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-circuit="open"' in html and "7 failures in a row" in html and "holding" in html
    assert '<span class="stat-value" data-queue-depth>3</span>' in html
    assert "5 min" in html  # the oldest queued message's age
    assert (
        '<tr data-cause="connection_refused"><td><code>connection_refused</code></td><td class="num">2</td>'
        in html
    )
    assert 'data-cause="read_timeout"' in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script on the page"
    assert " style=" not in html, "inline style on the page"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_delivery_page_with_nothing_yet(desk):
    html = desk.html("/admin/delivery")
    assert 'data-circuit="closed"' in html and "No retries yet." in html


def test_delivery_page_needs_sign_in(client):
    response = client.get("/admin/delivery")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
