"""The tab title counts unread threads; a browser notification (once allowed) for a new message
in a thread assigned to the agent or to nobody."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import User
from app.conversations.models import Conversation
from app.extensions import db
from tests.admin.conftest import create_account
from tests.conftest import wait_until

from .conftest import is_postgres
from .test_desk import conversation_id

pytestmark = pytest.mark.browser

# Records notifications instead of showing them; permission starts as "default" (not asked yet).
STUB = """
window.__notifications = [];
window.Notification = function (title, options) {
  window.__notifications.push({ title: title, body: (options || {}).body });
};
window.Notification.permission = "default";
window.Notification.requestPermission = function () {
  window.Notification.permission = "granted";
  return Promise.resolve("granted");
};
"""


def test_title_counts_unread_threads(desk, sandbox):
    expect(desk).to_have_title("Inbox · SMS desk")
    sandbox.inbound("+14155550191", "one")
    expect(desk).to_have_title("(1) Inbox · SMS desk")
    sandbox.inbound("+14155550192", "two")
    expect(desk).to_have_title("(2) Inbox · SMS desk")


def test_notification_for_unassigned_and_mine_not_for_others(desk, sandbox, query, app):
    if not is_postgres(app):
        pytest.skip("notifications ride on push (PostgreSQL); SQLite polls without them")
    other = create_account(app, "other@example.com", role="agent")
    sandbox.inbound("+14155550193", "first")
    cid = conversation_id(query, "+14155550193")

    def assign():
        db.session.get(Conversation, cid).assignee_id = other
        db.session.commit()

    query(assign)
    desk.add_init_script(STUB)
    desk.goto("/admin/")
    button = desk.get_by_role("button", name="Turn on notifications")
    button.click()
    expect(button).to_be_hidden()
    expect(desk.locator("html")).to_have_attribute("data-push", "open")

    sandbox.inbound("+14155550194", "Unassigned thread here")
    assert wait_until(lambda: desk.evaluate("window.__notifications.length") >= 1, timeout=5)
    sandbox.inbound("+14155550193", "For the other agent")  # assigned to someone else: silent

    def mine():
        me = db.session.scalar(select(User.id).where(User.email == "agent@example.com"))
        db.session.get(Conversation, cid).assignee_id = me
        db.session.commit()

    expect(desk.locator("#threads")).to_contain_text("For the other agent")
    query(mine)
    sandbox.inbound("+14155550193", "Now it is mine")
    assert wait_until(lambda: desk.evaluate("window.__notifications.length") >= 2, timeout=5)
    desk.wait_for_timeout(300)
    bodies = [n["body"] for n in desk.evaluate("window.__notifications")]
    assert bodies == ["Unassigned thread here", "Now it is mine"], bodies
