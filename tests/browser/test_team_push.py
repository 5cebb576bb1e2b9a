"""Push, not polling: on PostgreSQL the inbox and thread update through one EventSource per tab,
with no request while idle; on SQLite they fall back to polling."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from .conftest import is_postgres
from .test_desk import conversation_id

pytestmark = pytest.mark.browser


def watch_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    return seen


def test_inbox_and_thread_update_by_push(desk, sandbox, query, app):
    if not is_postgres(app):
        pytest.skip("push needs PostgreSQL LISTEN/NOTIFY; SQLite polls (test_polling_fallback)")
    expect(desk.locator("html")).to_have_attribute("data-push", "open")
    desk.wait_for_timeout(800)  # the one catch-up fetch a new stream makes
    requests = watch_requests(desk)
    desk.wait_for_timeout(2500)  # idle: nothing asked
    assert [u for u in requests if ".json" in u or "/events" in u] == []

    started = time.monotonic()
    sandbox.inbound("+14155550181", "Pushed to every tab")
    row = desk.locator("#threads .thread-row").first
    expect(row).to_contain_text("Pushed to every tab", timeout=5000)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed  # webhook + notify + refetch; bench/sse.py measures the push alone
    assert sum("/admin/events" in u for u in requests) == 0  # the same connection carried it

    cid = conversation_id(query, "+14155550181")
    desk.goto(f"/admin/conversations/{cid}")
    expect(desk.locator("html")).to_have_attribute("data-push", "open")
    desk.wait_for_timeout(800)
    requests.clear()
    desk.wait_for_timeout(2500)
    assert [u for u in requests if "messages.json" in u] == []
    sandbox.inbound("+14155550181", "Second message")
    expect(desk.locator("#messages li.msg-inbound .body").last).to_have_text("Second message")
    assert sum("/admin/events" in u for u in requests) == 0


def test_polling_fallback_on_sqlite(desk, sandbox, app):
    if is_postgres(app):
        pytest.skip("SQLite only")
    assert desk.locator("#desk-live").get_attribute("data-stream-url") == ""
    requests = watch_requests(desk)
    sandbox.inbound("+14155550182", "Polled in")
    expect(desk.locator("#threads .thread-row").first).to_contain_text("Polled in")
    assert any("inbox.json" in u for u in requests)
    assert not any("/admin/events" in u for u in requests)
