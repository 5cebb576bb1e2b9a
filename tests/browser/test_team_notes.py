"""Private notes in the browser: shown in the timeline as notes, never sent to the sandbox."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.admin.conftest import EMAIL, create_account

from .test_desk import conversation_id

pytestmark = pytest.mark.browser

PHONE = "+14155550171"
NOTE = "Called her back: the parcel is at the depot <b>bold?</b>"


def test_note_shows_in_the_timeline_and_never_reaches_the_sandbox(
    desk, sandbox, worker, query, app, open_tab
):
    sandbox.inbound(PHONE, "Where is my parcel?")
    cid = conversation_id(query, PHONE)
    # a colleague has the thread open: the note reaches their page too (push, or polling on SQLite)
    create_account(app, "colleague@example.com", role="agent")
    other = open_tab("colleague@example.com")
    other.goto(f"/admin/conversations/{cid}")

    desk.goto(f"/admin/conversations/{cid}")
    desk.locator('textarea[name="note"]').fill(NOTE)
    # a form post: wait for the new page, or the old one (which the note can reach first, by
    # push or polling) takes the next keys and the navigation then drops them
    with desk.expect_navigation():
        desk.get_by_role("button", name="Add note").click()
    note = desk.locator("#messages [data-note]").last
    expect(note).to_contain_text(NOTE)
    expect(note).to_contain_text(f"Private note · {EMAIL}")
    assert note.locator("time").get_attribute("datetime")
    expect(desk.locator("#messages [data-note] b")).to_have_count(0)
    expect(other.locator("#messages [data-note]").last).to_contain_text(NOTE)

    # a reply goes out and is delivered; the note never does
    desk.locator('textarea[name="body"]').fill("It is on its way.")
    desk.get_by_role("button", name="Send").click()
    expect(desk.locator("#messages li.msg-outbound .status").last).to_have_text("delivered", timeout=20_000)
    bodies = [m.get("body") for m in sandbox.messages()]
    assert "It is on its way." in bodies
    assert not any("depot" in (b or "") for b in bodies), bodies
    response = desk.request.get(f"/admin/conversations/{cid}/messages.json")
    assert all("depot" not in m["body"] for m in response.json()["messages"])
