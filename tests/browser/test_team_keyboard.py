"""Keyboard (j/k, r, e, ?), visible focus, a label on every control, and a 390 px wide screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .test_desk import conversation_id

pytestmark = pytest.mark.browser

PHONES = ("+14155550201", "+14155550202", "+14155550203")

# Every visible form control must have an accessible name (label, aria-label or aria-labelledby).
UNLABELLED = """
() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
  .filter((el) => el.offsetParent !== null)
  .filter((el) => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
    if (el.labels && el.labels.length) return false;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return false;
    return true;
  })
  .map((el) => el.outerHTML.slice(0, 120))
"""


def seed(sandbox, query) -> list[int]:
    ids = []
    for i, phone in enumerate(PHONES):
        sandbox.inbound(phone, f"message {i}")
        ids.append(conversation_id(query, phone))
    return ids


def test_keys_move_reply_close_and_help(desk, sandbox, query):
    seed(sandbox, query)
    desk.goto("/admin/")
    rows = desk.locator("#threads .thread-row")
    expect(rows).to_have_count(3)
    order = [int(x) for x in rows.evaluate_all("els => els.map(e => e.dataset.id)")]
    desk.keyboard.press("j")
    expect(rows.nth(0)).to_have_class("thread-row is-unread is-selected")
    expect(rows.nth(0).locator("a")).to_be_focused()
    desk.keyboard.press("j")
    desk.keyboard.press("j")
    desk.keyboard.press("k")
    expect(rows.nth(1).locator("a")).to_be_focused()
    outline = desk.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible

    desk.keyboard.press("?")
    dialog = desk.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("next thread")
    desk.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    desk.keyboard.press("Enter")  # opens the focused thread
    desk.wait_for_url(f"**/admin/conversations/{order[1]}")
    desk.keyboard.press("j")
    desk.wait_for_url(f"**/admin/conversations/{order[2]}")
    desk.keyboard.press("k")
    desk.wait_for_url(f"**/admin/conversations/{order[1]}")
    desk.keyboard.press("r")
    box = desk.locator('textarea[name="body"]')
    expect(box).to_be_focused()
    box.press_sequentially("jk r e")  # typing in the box is not a shortcut
    expect(box).to_have_value("jk r e")
    assert desk.url.endswith(f"/admin/conversations/{order[1]}")
    box.blur()
    desk.keyboard.press("e")
    expect(desk.get_by_text("Thread closed.")).to_be_visible()
    expect(desk.locator("#thread-status")).to_have_text("closed")
    expect(desk.get_by_text("closed the thread")).to_be_visible()


def test_every_control_has_a_label(desk, sandbox, query):
    (cid, *_rest) = seed(sandbox, query)
    for path in (
        "/admin/",
        f"/admin/conversations/{cid}",
        "/admin/saved-replies",
        "/admin/users",
        "/admin/reports",
    ):
        desk.goto(path)
        assert desk.evaluate(UNLABELLED) == [], path


def test_a_390_px_screen_is_usable(open_tab, desk, sandbox, query):
    (cid, *_rest) = seed(sandbox, query)
    phone = open_tab(
        "agent@example.com", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    for path in ("/admin/", f"/admin/conversations/{cid}", "/admin/saved-replies", "/admin/reports"):
        phone.goto(path)
        overflow = phone.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, (path, overflow)
    phone.goto(f"/admin/conversations/{cid}")
    box = phone.locator('textarea[name="body"]')
    box.scroll_into_view_if_needed()
    expect(box).to_be_visible()
    box.fill("Replying from a phone")
    send = phone.get_by_role("button", name="Send")
    box_right = box.bounding_box()
    assert box_right["x"] >= 0 and box_right["x"] + box_right["width"] <= 390
    send.click()
    expect(phone.get_by_text("Reply queued.")).to_be_visible()
    expect(phone.locator('textarea[name="note"]')).to_be_visible()


def test_a_live_redraw_keeps_the_keyboard_focus(desk, sandbox, query):
    """The inbox redraws its rows when something changes (push or poll); the thread the agent
    moved to with j keeps the focus, so the next key still acts on it (a redraw under load
    between `j` and the next key once left the focus nowhere)."""
    seed(sandbox, query)
    desk.goto("/admin/")
    rows = desk.locator("#threads .thread-row")
    expect(rows).to_have_count(3)
    desk.keyboard.press("j")
    first = rows.nth(0)
    expect(first.locator("a")).to_be_focused()
    focused_id = first.get_attribute("data-id")
    sandbox.inbound("+14155550204", "a new thread arrives")  # the list is redrawn
    expect(rows).to_have_count(4, timeout=15000)
    again = desk.locator(f'#threads .thread-row[data-id="{focused_id}"]')
    expect(again.locator("a")).to_be_focused()
    expect(again).to_have_class("thread-row is-unread is-selected")
