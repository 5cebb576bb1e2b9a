"""Saved replies in the browser: create one, then "/" in the reply box, arrows, Enter inserts it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.conversations.models import Contact
from app.extensions import db

from .test_desk import conversation_id

pytestmark = pytest.mark.browser

PHONE = "+14155550172"


def name_contact(query, phone: str, name: str) -> None:
    def run():
        db.session.scalar(select(Contact).where(Contact.phone == phone)).name = name
        db.session.commit()

    query(run)


def create(page, title: str, body: str) -> None:
    form = page.get_by_role("form", name="New saved reply")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Body").fill(body)
    form.get_by_role("button", name="Create").click()
    expect(page.locator("table.saved-replies")).to_contain_text(title)


def test_slash_offers_saved_replies_and_enter_inserts_the_rendered_one(desk, sandbox, query):
    desk.goto("/admin/saved-replies")
    create(desk, "Greeting", "Hi {{ contact.name }}, thanks for writing to {{ brand }}!")
    create(desk, "Greeting (Spanish)", "Hola {{ contact.name }} 👋")
    create(desk, "Refund policy", "Refunds within 30 days of purchase.")
    # edit and delete work from the list too
    desk.get_by_role("link", name="Edit Refund policy").click()
    desk.get_by_label("Body").fill("Refunds within 14 days.")
    desk.get_by_role("button", name="Save").click()
    expect(desk.locator("table.saved-replies")).to_contain_text("Refunds within 14 days.")

    sandbox.inbound(PHONE, "Hello")
    cid = conversation_id(query, PHONE)
    name_contact(query, PHONE, "Maria")
    desk.goto(f"/admin/conversations/{cid}")
    box = desk.locator('textarea[name="body"]')
    box.click()
    box.press_sequentially("Hello! /gree")
    picker = desk.get_by_role("listbox", name="Saved replies")
    expect(picker.get_by_role("option")).to_have_count(2)
    expect(picker.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    expect(picker.get_by_role("option").nth(1)).to_have_attribute("aria-selected", "true")
    box.press("ArrowUp")
    box.press("ArrowUp")  # wraps to the last one
    expect(picker.get_by_role("option").nth(1)).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(box).to_have_value("Hello! Hola Maria 👋")
    expect(picker).to_be_hidden()
    expect(desk.locator("#segment-counter")).to_contain_text("UCS-2")

    box.fill("")
    box.press_sequentially("/greeting")
    expect(picker.get_by_role("option")).to_have_count(2)
    box.press("Enter")
    expect(box).to_have_value("Hi Maria, thanks for writing to Acme Support!")
    expect(desk.locator("#segment-counter")).to_have_text("GSM-7 · 45/160 · 1 segment")

    box.press_sequentially(" /nothing-like-this")
    expect(picker).to_contain_text("No saved reply matches")
    box.press("Escape")
    expect(picker).to_be_hidden()

    desk.goto("/admin/saved-replies")
    desk.get_by_role("button", name="Delete Greeting (Spanish)").click()
    expect(desk.locator("table.saved-replies")).not_to_contain_text("Hola")


def test_a_slash_typed_before_the_picker_script_ran_is_answered(desk, sandbox, query):
    """Under load the reply box can take keys before the deferred picker.js has run (the suite
    under stress-ng typed "/deliv" into a page still loading its scripts): the picker answers
    what is already in the box when it starts."""
    desk.goto("/admin/saved-replies")
    create(desk, "Delivery areas", "We deliver within 20 miles.")
    sandbox.inbound(PHONE, "Hello")
    cid = conversation_id(query, PHONE)
    desk.route("**/picker.js*", lambda route: route.abort())  # the script has not run yet
    desk.goto(f"/admin/conversations/{cid}")
    box = desk.locator('textarea[name="body"]')
    box.click()
    box.press_sequentially("Sure: /deliv")
    picker = desk.get_by_role("listbox", name="Saved replies")
    expect(picker).to_be_hidden()
    desk.unroute("**/picker.js*")
    src = desk.locator('script[src*="picker.js"]').get_attribute("src")
    desk.add_script_tag(url=src)  # now it runs, after the page has loaded
    expect(picker.get_by_role("option")).to_have_count(1)
    box.press("Enter")
    expect(box).to_have_value("Sure: We deliver within 20 miles.")
