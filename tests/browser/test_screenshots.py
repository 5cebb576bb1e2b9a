"""Screenshots of the inbox and a thread for the README, with a few realistic conversations.

They go through the real path: the sandbox texts the live server, rules and consent answer, the
agent's replies are delivered by the worker.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app import settings
from app.conversations.models import Contact, Conversation, Message
from app.extensions import db
from app.rules import crud
from tests.conftest import wait_until

pytestmark = pytest.mark.browser

# The README's pictures are refreshed only on request (UPDATE_SCREENSHOTS=1), so a test run
# leaves the work tree clean; otherwise they go to a temporary folder and are still checked.
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "sms-desk-screenshots"
)
SAVED_REPLIES = (
    ("Delivery area", "Hi {{ contact.name }}! We deliver across the Bay Area every day, free over $40."),
    ("Delivery times", "Orders placed before 2pm arrive the same day. Thanks, {{ brand }}"),
    ("Refund", "So sorry {{ contact.name }}! We'll refund you in full within 3 days."),
)
PEOPLE = {
    "+14155550161": "Maria Gonzalez",
    "+13125550162": "James Carter",
    "+12065550163": "Priya Patel",
    "+16175550165": "Tom O'Brien",
}


def seed_setup(query) -> None:
    def run():
        settings.put("brand", "Bloom Florists")
        settings.put("support_contact", "hello@bloom.example")
        crud.create_rule(
            {
                "name": "Opening hours",
                "match": "first_word",
                "patterns": ["HOURS", "OPEN"],
                "reply": "Bloom Florists is open Mon-Sat 9am-6pm, Sun 10am-4pm. Reply HELP for help.",
                "tags": ["hours"],
            }
        )
        db.session.commit()

    query(run)


def name_contacts(query) -> None:
    def run():
        for phone, name in PEOPLE.items():
            contact = db.session.scalar(select(Contact).where(Contact.phone == phone))
            if contact is not None:
                contact.name = name
        db.session.commit()

    query(run)


def backdate(query, minutes: dict[str, int]) -> None:
    """Spread the threads over the last day, as a real inbox would be."""

    def run():
        for phone, ago in minutes.items():
            conversation = db.session.scalar(select(Conversation).join(Contact).where(Contact.phone == phone))
            shift = timedelta(minutes=ago)
            conversation.last_message_at -= shift
            conversation.created_at -= shift
            for message in db.session.scalars(
                select(Message).where(Message.conversation_id == conversation.id)
            ):
                message.date_created -= shift
        db.session.commit()

    query(run)


def count(query, **where) -> int:
    return query(lambda: db.session.scalar(select(func.count()).select_from(Message).filter_by(**where)))


def thread_of(query, phone: str) -> int:
    return query(
        lambda: db.session.scalar(select(Conversation.id).join(Contact).where(Contact.phone == phone))
    )


def reply(page, cid: int, text: str) -> None:
    page.goto(f"/admin/conversations/{cid}")
    page.locator('textarea[name="body"]').fill(text)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"**/admin/conversations/{cid}")


def test_screenshots_for_the_readme(desk, sandbox, worker, query):
    seed_setup(query)
    sandbox.inbound("+16175550165", "My order #1042 arrived today but the vase was cracked :(")
    sandbox.inbound("+12065550163", "please stop texting me about promotions")
    sandbox.inbound("+19175550164", "STOP")
    sandbox.inbound("+13125550162", "hours?")
    sandbox.inbound("+14155550161", "Hi! Do you deliver to Oakland?")
    assert wait_until(lambda: count(query, direction="inbound") == 5)
    name_contacts(query)

    maria = thread_of(query, "+14155550161")
    reply(desk, maria, "Hi Maria! Yes, we deliver to Oakland every day; it's free on orders over $40.")
    assert wait_until(lambda: count(query, status="delivered") >= 3, timeout=30)
    sandbox.inbound("+14155550161", "Perfect — I'll order the spring bouquet for Saturday!")
    tom = thread_of(query, "+16175550165")
    reply(desk, tom, "So sorry, Tom! We'll send a replacement vase tomorrow, no charge.")
    assert wait_until(lambda: count(query, direction="inbound") == 6)
    assert wait_until(
        lambda: (
            count(query, status="queued") == 0
            and count(query, status="sending") == 0
            and count(query, status="sent") == 0
        ),
        timeout=30,
    )

    backdate(query, {"+13125550162": 42, "+12065550163": 135, "+19175550164": 60 * 20})

    SHOTS.mkdir(parents=True, exist_ok=True)
    desk.goto("/admin/")
    expect(desk.locator("#threads .thread-row")).to_have_count(5)
    desk.screenshot(path=str(SHOTS / "inbox.png"))

    desk.goto("/admin/saved-replies")
    for title, body in SAVED_REPLIES:
        desk.get_by_label("Title").fill(title)
        desk.get_by_label("Body").fill(body)
        desk.get_by_role("button", name="Create").click()
        expect(desk.locator("table.saved-replies")).to_contain_text(title)

    desk.goto(f"/admin/conversations/{maria}")
    expect(desk.locator("#messages li.msg")).to_have_count(3)
    expect(desk.locator("#messages .status").first).to_have_text("delivered")
    desk.locator('textarea[name="note"]').fill(
        "Regular customer: she orders every month. Offer the loyalty discount."
    )
    # a form post: wait for the new page, or the old one (which the note can reach first, by
    # push or polling) takes the next keys and the navigation then drops them
    with desk.expect_navigation():
        desk.get_by_role("button", name="Add note").click()
    expect(desk.locator("#messages [data-note]")).to_have_count(1)
    box = desk.locator('textarea[name="body"]')
    box.click()
    box.press_sequentially("/deliv")
    expect(desk.get_by_role("listbox", name="Saved replies").get_by_role("option")).to_have_count(2)
    desk.screenshot(path=str(SHOTS / "thread.png"))

    tom_page = f"/admin/conversations/{tom}"
    desk.goto(tom_page)
    desk.get_by_role("button", name="Close").click()
    expect(desk.get_by_text("Thread closed.")).to_be_visible()
    desk.goto("/admin/reports?days=7")
    expect(desk.locator("table.report-agents tbody tr")).to_have_count(1)
    desk.screenshot(path=str(SHOTS / "reports.png"), full_page=True)
    for name in ("inbox.png", "thread.png", "reports.png"):
        assert (SHOTS / name).stat().st_size > 10_000
