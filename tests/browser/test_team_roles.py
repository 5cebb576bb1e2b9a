"""Agents and roles in the browser: invite, sign in as agent, refused on admin-only pages, deactivate."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.admin.conftest import create_account

pytestmark = pytest.mark.browser

ADMIN_ONLY_PAGES = ("/admin/settings", "/admin/users", "/admin/rules/new")


def test_agent_is_refused_on_admin_only_pages(desk, app, open_tab):
    create_account(app, "agent2@example.com", role="agent")
    tab = open_tab("agent2@example.com")
    nav = tab.get_by_role("navigation", name="Main")
    expect(nav).to_contain_text("Saved replies")
    expect(nav).not_to_contain_text("Settings")
    expect(nav).not_to_contain_text("Users")
    for path in ADMIN_ONLY_PAGES:
        response = tab.goto(path)
        assert response.status == 403, (path, response.status)
    response = tab.goto("/admin/rules")  # reading the rules is allowed
    assert response.status == 200
    # the admin can open them all
    for path in ADMIN_ONLY_PAGES:
        assert desk.goto(path).status == 200


def test_admin_invites_an_agent_who_signs_in_and_is_then_deactivated(desk, open_tab):
    desk.goto("/admin/users")
    form = desk.get_by_role("form", name="Invite a user")
    form.get_by_label("Email").fill("nia@example.com")
    form.get_by_label("Name").fill("Nia")
    form.get_by_label("Role").select_option("agent")
    form.get_by_role("button", name="Invite").click()
    password = desk.locator("#invite-password").inner_text()
    assert len(password) >= 12
    tab = open_tab("nia@example.com", password=password)
    expect(tab.get_by_role("heading", name="Inbox")).to_be_visible()
    assert tab.goto("/admin/users").status == 403

    desk.goto("/admin/users")
    row = desk.locator('tr[data-user="nia@example.com"]')
    expect(row.get_by_role("combobox")).to_have_value("agent")
    row.get_by_role("button", name="Deactivate nia@example.com").click()
    expect(desk.get_by_text("nia@example.com is deactivated")).to_be_visible()
    tab.goto("/admin/")
    tab.wait_for_url("**/admin/login")
    expect(tab.get_by_role("alert")).to_contain_text("This account is deactivated.")
    tab.fill('input[name="email"]', "nia@example.com")
    tab.fill('input[name="password"]', password)
    tab.click('button[type="submit"]')
    expect(tab.get_by_role("alert")).to_have_text("Wrong email or password.")
