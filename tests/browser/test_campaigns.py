"""The three campaign pages in Debian's Chromium: a campaign created from the desk with a CSV file
(live segment counter and preview, UCS-2 warning), its page's live progress while the worker sends
through the sandbox, pause/resume, the list with progress; and the README's screenshot."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.conversations.service import get_or_create_contact
from app.extensions import db
from tests.campaigns.helpers import numbers_inside_the_window
from tests.conftest import OUR

pytestmark = pytest.mark.browser
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "sms-desk-screenshots"
)
NAMES = ["Maria", "James", "Priya", "Zoë", "Tom", "Ana", "Li", "Sam", "Noor", "Ken", "Eva", "Raj"]


def csv_file(phones: list[str], extra_rows: str = "") -> dict:
    lines = ["phone,name,store"] + [f"{p},{NAMES[i % len(NAMES)]},Downtown" for i, p in enumerate(phones)]
    return {
        "name": "list.csv",
        "mimeType": "text/csv",
        "buffer": ("\n".join(lines) + "\n" + extra_rows).encode(),
    }


def fill_form(desk, phones, rate: str = "", extra_rows: str = "") -> None:
    desk.goto("/admin/campaigns/new")
    desk.fill('input[name="name"]', "Spring sale")
    desk.fill('input[name="from"]', OUR)
    desk.fill("#campaign-body", "Hi {{ name }}! 20% off at our {{ fields.store }} store this week.")
    desk.set_input_files('input[name="recipients"]', csv_file(phones, extra_rows))
    if rate:
        desk.fill('input[name="rate_per_minute"]', rate)


def test_new_campaign_counter_preview_and_create(desk, live_server) -> None:
    phones = numbers_inside_the_window(4)
    fill_form(desk, phones, extra_rows="not-a-number,Bad,Nowhere\n")
    expect(desk.locator("#segment-counter")).to_contain_text("GSM-7")
    expect(desk.locator("#segment-counter")).to_contain_text("1 segment")
    rows = desk.locator("#preview-rows tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("Hi Maria! 20% off at our Downtown store this week.")
    expect(rows.nth(3)).to_contain_text("UCS-2")  # Zoë: ë is not in GSM-7
    expect(desk.locator("#preview-warnings li")).to_contain_text("UCS-2")
    expect(desk.locator("#preview-summary")).to_contain_text("About 5 recipients")
    desk.fill("#campaign-body", "{{ broken")
    expect(desk.locator("#preview-summary")).to_contain_text("not a valid template")
    desk.fill("#campaign-body", "x" * 1600)  # 11 GSM-7 parts of 153
    expect(desk.locator("#segment-counter")).to_contain_text("11 segments — too long")
    desk.fill("#campaign-body", "Hi {{ name }}")
    desk.click("button.primary")
    desk.wait_for_url("**/admin/campaigns/*")
    expect(desk.locator("progress#campaign-progress")).to_be_visible()
    expect(desk.locator('[data-bucket="skipped_invalid"]')).to_have_text("1")
    expect(desk.locator("#skipped-rows")).to_contain_text("not-a-number")


def test_progress_is_live_and_buttons_work(desk, worker, sandbox, app) -> None:
    phones = numbers_inside_the_window(6)
    with app.app_context():
        get_or_create_contact(phones[5]).opted_out = True
        db.session.commit()
        db.session.remove()
    fill_form(desk, phones, rate="600")
    desk.click("button.primary")
    desk.wait_for_url("**/admin/campaigns/*")
    # No reload: the polling script moves the bar and the counts as the worker sends.
    expect(desk.locator('[data-bucket="delivered"]')).to_have_text("5", timeout=60_000)
    expect(desk.locator('[data-bucket="skipped_opted_out"]')).to_have_text("1")
    expect(desk.locator("#campaign-status")).to_have_text("completed", timeout=30_000)
    assert desk.locator("#campaign-progress").get_attribute("max") == "6"
    expect(desk.locator("#campaign-progress-text")).to_contain_text("6 of 6 done (100%)")
    expect(desk.locator('button[data-action="pause"]')).to_be_disabled()
    desk.goto("/admin/campaigns")
    expect(desk.locator(".campaigns-table progress")).to_have_count(1)
    expect(desk.locator(".campaigns-table")).to_contain_text("Spring sale")


def test_pause_and_resume_from_the_page(desk) -> None:
    fill_form(desk, numbers_inside_the_window(3), rate="1")
    desk.click("button.primary")
    desk.wait_for_url("**/admin/campaigns/*")
    desk.click('button[data-action="pause"]')
    expect(desk.locator("#campaign-status")).to_have_text("paused")
    expect(desk.locator('button[data-action="resume"]')).to_be_enabled()
    desk.click('button[data-action="resume"]')
    expect(desk.locator("#campaign-status")).to_have_text("running")
    desk.on("dialog", lambda d: None)  # the fixture dismisses confirm(): cancel stays not sent
    desk.click('button[data-action="cancel"]')
    expect(desk.locator("#campaign-status")).to_have_text("running")


@pytest.fixture
def open_window(app):
    """Quiet hours opened to the whole day, set before the worker starts (its settings cache must
    never hold the old window), so the picture does not depend on the hour it is taken."""
    from app import settings

    with app.app_context():
        settings.put("quiet_end", "00:00")
        settings.put("quiet_start", "23:59")
        db.session.commit()
        settings.invalidate_cache()
        get_or_create_contact("+12065550140").opted_out = True
        db.session.commit()
        db.session.remove()


def test_progress_page_screenshot(open_window, desk, worker, sandbox) -> None:
    """The README's picture: a campaign part-way, with a failure and an undelivered message."""
    phones = ["+12025550101", "+12025550102", "+12065550140"]
    phones += [f"+1{area}555{n:04d}" for n in range(150, 170) for area in ("415", "312")][:37]
    desk.goto("/admin/campaigns/new")
    desk.fill('input[name="name"]', "Spring sale")
    desk.fill('input[name="from"]', f"{OUR}, +14155550199")
    desk.fill(
        "#campaign-body", "Hi {{ name }}! 20% off everything at our {{ fields.store }} store this week."
    )
    desk.set_input_files('input[name="recipients"]', csv_file(phones, extra_rows="+1555,Nobody,Nowhere\n"))
    desk.fill('input[name="rate_per_minute"]', "40")
    desk.click("button.primary")
    desk.wait_for_url("**/admin/campaigns/*")
    desk.wait_for_function(
        "() => Number(document.querySelector('[data-bucket=delivered]').textContent) >= 12", timeout=120_000
    )
    expect(desk.locator("#campaign-errors tr")).to_have_count(2, timeout=60_000)  # 30003 and 30008
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk.screenshot(path=str(SHOTS / "campaign.png"), full_page=True)
