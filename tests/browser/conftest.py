"""Playwright (sync API) driving Debian's Chromium against the live server, sandbox and worker.

Never `playwright install`: the system browser at /usr/bin/chromium is used, and the tests skip
when it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.extensions import db
from tests.admin.conftest import EMAIL, PASSWORD

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.dialogs = []  # every alert/confirm/prompt (an XSS payload that ran would open one)

    def on_dialog(dialog):
        tab.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.script_problems = []  # CSP violations and uncaught JavaScript errors
    tab.on(
        "console",
        lambda m: (
            m.type == "error" and "Content Security Policy" in m.text and tab.script_problems.append(m.text)
        ),
    )
    tab.on("pageerror", lambda exc: tab.script_problems.append(str(exc)))
    yield tab
    context.close()
    assert tab.script_problems == [], tab.script_problems


@pytest.fixture
def agent(app) -> int:
    from app.accounts.service import create_user

    with app.app_context():
        user = create_user(EMAIL, PASSWORD, name="Agent")
        db.session.commit()
        user_id = user.id
        db.session.remove()
    return user_id


def sign_in(page, email: str = EMAIL, password: str = PASSWORD) -> None:
    page.goto("/admin/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')


@pytest.fixture
def desk(page, agent):
    """A page signed in as the agent, on the inbox."""
    sign_in(page)
    page.wait_for_url("**/admin/")
    return page


@pytest.fixture
def open_tab(browser, live_server):
    """open_tab(email=None, **context options) -> a new page in its own context (own cookies),
    signed in when an email is given; closed after the test."""
    contexts = []

    def make(email: str | None = None, password: str = PASSWORD, **options):
        options.setdefault("viewport", {"width": 1280, "height": 860})
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        tab = context.new_page()
        tab.script_problems = []
        tab.on("pageerror", lambda exc: tab.script_problems.append(str(exc)))
        if email:
            sign_in(tab, email, password)
            tab.wait_for_url("**/admin/")
        return tab

    yield make
    for context in contexts:
        problems = [p for page in context.pages for p in getattr(page, "script_problems", [])]
        context.close()
        assert problems == [], problems


def is_postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"
