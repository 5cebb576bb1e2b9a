"""/admin/reports in the browser: after an agent answers and closes, the chart, tables and CSV."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .test_desk import conversation_id

pytestmark = pytest.mark.browser


def test_reports_show_the_agents_work(desk, sandbox, query):
    for phone in ("+14155550211", "+14155550212"):
        sandbox.inbound(phone, "Need help")
        cid = conversation_id(query, phone)
        desk.goto(f"/admin/conversations/{cid}")
        desk.locator('textarea[name="body"]').fill("On it.")
        desk.get_by_role("button", name="Send").click()
        expect(desk.get_by_text("Reply queued.")).to_be_visible()
        desk.get_by_role("button", name="Close").click()
        expect(desk.get_by_text("Thread closed.")).to_be_visible()

    desk.get_by_role("link", name="Reports").click()
    expect(desk.get_by_role("heading", name="Reports")).to_be_visible()
    expect(desk.get_by_role("img", name="Threads opened and closed per day")).to_be_visible()
    assert desk.locator("svg rect.bar-opened").count() == 14
    agents = desk.locator("table.report-agents tbody tr")
    expect(agents).to_have_count(1)
    expect(agents.first.locator("td").nth(0)).to_have_text("agent@example.com")
    expect(agents.first.locator("td").nth(1)).to_have_text("2")  # closed
    expect(agents.first.locator("td").nth(2)).to_have_text("2")  # first responses
    today = desk.locator("table.report-days tbody tr").first
    expect(today.locator("td").nth(1)).to_have_text("2")  # opened
    expect(today.locator("td").nth(2)).to_have_text("2")  # closed

    desk.get_by_role("link", name="7 days").click()
    assert desk.locator("svg rect.bar-opened").count() == 7
    with desk.expect_download() as info:
        desk.get_by_role("link", name="Download CSV").click()
    text = open(info.value.path(), encoding="utf-8").read()
    assert text.startswith("scope,key,opened,closed,first_responses")
    assert "agent,agent@example.com,0,2,2," in text
