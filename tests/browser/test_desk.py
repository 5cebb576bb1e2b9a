"""The agent desk in a real browser: sign-in, live inbox and thread, delivery status, XSS, consent, CSRF."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.conversations.models import Contact, Conversation
from app.extensions import db
from tests.conftest import wait_until

from .conftest import sign_in

pytestmark = pytest.mark.browser

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"


def conversation_id(query, phone: str) -> int:
    def find():
        return db.session.scalar(
            select(Conversation.id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.phone == phone)
        )

    cid = wait_until(lambda: query(find))
    assert cid, f"no conversation with {phone}"
    return cid


def mark_page(page) -> None:
    """A marker that a reload would wipe: proves that what follows arrived without one."""
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__noReload === true")


def test_sign_in(page, agent):
    sign_in(page, password="wrong password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    sign_in(page)
    page.wait_for_url("**/admin/")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Consent log")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/login")
    page.goto("/admin/rules")
    page.wait_for_url("**/admin/login?next=**")


def test_inbound_message_appears_in_the_inbox_without_reload(desk, sandbox):
    expect(desk.locator("#threads-empty")).to_be_visible()
    mark_page(desk)
    sandbox.inbound("+14155550142", "Is the shop open on Sunday?")
    row = desk.locator("#threads .thread-row").first
    expect(row).to_contain_text("Is the shop open on Sunday?")
    expect(row).to_contain_text("+14155550142")
    expect(row.locator(".badge-unread")).to_have_text("1")
    expect(desk.locator("#threads-empty")).to_be_hidden()
    assert_not_reloaded(desk)


def test_reply_from_the_thread_turns_delivered_without_reload(desk, sandbox, worker, query):
    sandbox.inbound("+14155550143", "Can I change my delivery address?")
    cid = conversation_id(query, "+14155550143")
    desk.goto(f"/admin/conversations/{cid}")
    box = desk.locator('textarea[name="body"]')
    box.fill("Sure, reply with the new address.")
    expect(desk.locator("#segment-counter")).to_have_text("GSM-7 · 33/160 · 1 segment")
    box.fill("Sure 👍")
    expect(desk.locator("#segment-counter")).to_contain_text("UCS-2 · 7/70 · 1 segment")
    box.fill("Sure, reply with the new address.")
    desk.get_by_role("button", name="Send").click()
    desk.wait_for_url(f"**/admin/conversations/{cid}")
    expect(desk.get_by_text("Reply queued.")).to_be_visible()
    mark_page(desk)
    last = desk.locator("#messages li.msg-outbound").last
    expect(last.locator(".body")).to_have_text("Sure, reply with the new address.")
    expect(last.locator(".status")).to_have_text("delivered", timeout=20_000)
    assert_not_reloaded(desk)
    assert len(sandbox.sent_to("+14155550143")) == 1
    last.locator("details.receipts summary").click()
    expect(last.locator(".receipt-list")).to_contain_text("delivered")


def test_new_inbound_appears_in_an_open_thread(desk, sandbox, query):
    sandbox.inbound("+14155550144", "Hello?")
    cid = conversation_id(query, "+14155550144")
    desk.goto(f"/admin/conversations/{cid}")
    mark_page(desk)
    sandbox.inbound("+14155550144", "Anyone there?")
    expect(desk.locator("#messages li.msg-inbound .body").last).to_have_text("Anyone there?")
    assert_not_reloaded(desk)


def test_hostile_message_text_shows_as_text_and_runs_nothing(desk, sandbox, query):
    sandbox.inbound("+14155550145", XSS_IMG)
    cid = conversation_id(query, "+14155550145")
    expect(desk.locator("#threads .preview").first).to_have_text(XSS_IMG)  # drawn by inbox.js
    desk.reload()  # and drawn by the server
    expect(desk.locator("#threads .preview").first).to_have_text(XSS_IMG)
    desk.goto(f"/admin/conversations/{cid}")
    expect(desk.get_by_text(XSS_IMG, exact=True)).to_be_visible()
    sandbox.inbound("+14155550145", XSS_SCRIPT)  # arrives through thread.js
    expect(desk.get_by_text(XSS_SCRIPT, exact=True)).to_be_visible()
    desk.goto("/admin/?q=alert")
    expect(desk.locator("#threads .preview").first).to_have_text(XSS_SCRIPT)
    desk.goto("/admin/contacts/+14155550145")
    desk.wait_for_timeout(300)
    assert desk.locator('img[src="x"]').count() == 0
    assert desk.dialogs == []


def test_opted_out_contact_has_a_disabled_reply_box(desk, sandbox, query):
    sandbox.inbound("+14155550146", "hi")
    cid = conversation_id(query, "+14155550146")
    desk.goto(f"/admin/conversations/{cid}")
    box = desk.locator('textarea[name="body"]')
    expect(box).to_be_enabled()
    mark_page(desk)
    sandbox.inbound("+14155550146", "STOP")  # the open page learns it from its poll
    expect(box).to_be_disabled()
    expect(desk.get_by_role("button", name="Send")).to_be_disabled()
    expect(desk.locator("#optout-notice")).to_contain_text("This contact opted out (replied STOP) on")
    assert_not_reloaded(desk)
    desk.reload()  # and the server renders it so
    expect(box).to_be_disabled()
    expect(desk.locator("#optout-notice")).to_contain_text("messages can't be sent.")


def test_form_post_without_its_csrf_token_is_refused(desk, sandbox, query):
    sandbox.inbound("+14155550147", "hi")
    cid = conversation_id(query, "+14155550147")
    desk.goto(f"/admin/conversations/{cid}")
    desk.evaluate("document.querySelector('#reply-form input[name=csrf_token]').remove()")
    desk.locator('textarea[name="body"]').fill("this should not go out")
    with desk.expect_response(lambda r: r.url.endswith(f"/conversations/{cid}/reply")) as info:
        desk.get_by_role("button", name="Send").click()
    assert info.value.status == 400
    expect(desk.get_by_role("heading", name="Form refused")).to_be_visible()
    assert sandbox.sent_to("+14155550147") == []
