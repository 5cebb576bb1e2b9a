"""Push: the desk_events triggers, the per-process listener, the SSE stream; polling on SQLite."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import event

from app.admin import live
from app.extensions import db
from tests.conftest import inbound_payload, post_signed_webhook

from .conftest import AGENT_EMAIL, create_account, sign_in


def is_postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


@pytest.fixture
def short_streams(app):
    saved = {k: app.config.get(k) for k in ("SSE_MAX_SECONDS", "SSE_HEARTBEAT_SECONDS")}
    app.config.update(SSE_MAX_SECONDS=3, SSE_HEARTBEAT_SECONDS=0.3)
    yield
    app.config.update(saved)


def test_sqlite_pages_poll_and_have_no_stream(app, desk):
    if is_postgres(app):
        pytest.skip("SQLite only")
    assert 'data-stream-url=""' in desk.html("/admin/")
    assert desk.client.get("/admin/events").status_code == 404


def test_unread_count(desk, make):
    make("+14155550160", [("inbound", "a")], unread=2)
    make("+14155550161", [("inbound", "b")], unread=0)
    make("+14155550162", [("inbound", "c")], unread=1)
    assert desk.client.get("/admin/unread.json").json == {"unread": 2}


def test_anonymous_stream_is_refused(client):
    assert client.get("/admin/events", headers={"Accept": "text/event-stream"}).status_code in (302, 401)


def next_data(chunks, timeout: float = 3.0) -> dict | None:
    deadline = time.monotonic() + timeout
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        for line in text.splitlines():
            if line.startswith("data: "):
                return json.loads(line[6:])
            if line.startswith("event: ended"):
                return {"ended": True}
        if time.monotonic() > deadline:
            return None
    return None


def test_inbound_webhook_reaches_the_stream_within_a_second(app, desk, short_streams, client):
    if not is_postgres(app):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only")
    assert "/admin/events" in desk.html("/admin/")
    response = desk.client.get("/admin/events", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks).decode().startswith("retry: 2000")
    assert live.hub().ready.wait(5)
    while True:  # drain the resync a new listener sends
        first = next_data(chunks, 1.0)
        if first is None or first.get("k") != "resync":
            break
    started = time.monotonic()
    assert (
        post_signed_webhook(
            client, "/webhooks/telefonie/inbound", inbound_payload("+14155550163", "ping")
        ).status_code
        < 300
    )
    seen = []
    while time.monotonic() - started < 3:
        data = next_data(chunks, 3.0)
        if data is None:
            break
        seen.append(data)
        if data.get("k") == "in":
            break
    elapsed = time.monotonic() - started
    inbound = [d for d in seen if d.get("k") == "in"]
    assert inbound and inbound[0]["p"] == "ping" and inbound[0]["a"] is None, seen
    assert elapsed < 1.0 + 0.5  # the webhook's own processing included
    response.close()


def test_idle_stream_runs_no_sql_and_ends(app, desk, short_streams):
    if not is_postgres(app):
        pytest.skip("PostgreSQL only")
    statements = []
    with app.app_context():
        engine = db.engine

    def count(*args):
        statements.append(args[2])

    response = desk.client.get("/admin/events", buffered=False)
    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.monotonic()
        pings = sum(1 for chunk in response.response if b": ping" in chunk)
        assert 2.5 < time.monotonic() - started < 5  # ends after SSE_MAX_SECONDS
        assert pings >= 5
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_deactivating_a_user_ends_their_stream(app, desk, short_streams):
    if not is_postgres(app):
        pytest.skip("PostgreSQL only")
    helper = create_account(app, AGENT_EMAIL, role="agent")
    other = app.test_client()
    sign_in(other, AGENT_EMAIL)
    response = other.get("/admin/events", buffered=False)
    chunks = iter(response.response)
    next(chunks)
    assert live.hub().ready.wait(5)
    desk.post(f"/admin/users/{helper}/active", {"active": "0"}, page="/admin/users")
    seen = []
    for _ in range(20):
        data = next_data(chunks, 3.0)
        if data is None:
            break
        seen.append(data)
        if data.get("ended"):
            break
    assert {"ended": True} in seen, seen
