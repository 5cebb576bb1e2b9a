"""Roles (admin, agent), /admin/users, deactivation, the users CLI, and who-did-what in a thread."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.admin.models import ThreadEvent
from app.admin.roles import ADMIN_ONLY
from app.extensions import db

from .conftest import AGENT_EMAIL, EMAIL, PASSWORD, Desk, create_account, sign_in
from .test_auth import admin_urls


def user_row(query, email: str) -> User:
    return query(lambda: db.session.scalar(select(User).where(User.email == email)))


def test_agent_gets_403_on_every_admin_only_page(app, agent_desk):
    token_page = "/admin/"
    checked = 0
    for endpoint, method, path in admin_urls(app):
        if endpoint not in ADMIN_ONLY and not endpoint.startswith(("admin.settings_", "admin.user_")):
            continue
        if method == "GET":
            response = agent_desk.get(path)
        else:
            response = agent_desk.post(
                path, {"role": "admin", "active": "1", "email": "x@example.com"}, page=token_page
            )
        assert response.status_code == 403, (endpoint, method, path, response.status_code)
        checked += 1
    assert checked >= 12
    for path in ("/admin/settings", "/admin/users", "/admin/rules/new"):
        assert agent_desk.get(path).status_code == 403, path


def test_agent_reads_rules_and_works_threads(app, agent_desk, make, query):
    assert agent_desk.get("/admin/rules").status_code == 200
    cid = make("+14155550120", [("inbound", "hello")])
    page = f"/admin/conversations/{cid}"
    html = agent_desk.html(page)
    assert 'name="note"' in html and 'name="body"' in html
    assert agent_desk.post(f"{page}/reply", {"body": "Hi there"}).status_code == 302
    assert agent_desk.post(f"{page}/notes", {"note": "VIP customer"}).status_code == 302
    assert agent_desk.post(f"{page}/tags", {"tags": "vip"}).status_code == 302
    assert agent_desk.post(f"{page}/close").status_code == 302
    response = agent_desk.post(
        "/admin/contacts/+14155550120/consent", {"action": "opt_out", "reason": "asked by phone"}
    )
    assert response.status_code == 302
    html = agent_desk.html(page)
    assert "Private note" in html and "VIP customer" in html
    assert f"{AGENT_EMAIL} closed the thread" in html
    assert f"{AGENT_EMAIL} set the tags: vip" in html
    nav = agent_desk.html("/admin/")
    assert "/admin/settings" not in nav and "/admin/users" not in nav and "(agent)" in nav


def test_thread_shows_who_assigned_and_closed(desk, app, make, query):
    helper = create_account(app, AGENT_EMAIL, role="agent")
    cid = make("+14155550121", [("inbound", "hello")])
    page = f"/admin/conversations/{cid}"
    desk.post(f"{page}/assign", {"user_id": str(helper)})
    desk.post(f"{page}/close")
    desk.post(f"{page}/reopen")
    desk.post(f"{page}/assign", {"user_id": ""})
    html = desk.html(page)
    assert f"{EMAIL} assigned the thread to {AGENT_EMAIL}" in html
    assert f"{EMAIL} closed the thread" in html
    assert f"{EMAIL} reopened the thread" in html
    assert f"{EMAIL} unassigned the thread" in html
    kinds = query(lambda: list(db.session.scalars(select(ThreadEvent.kind).order_by(ThreadEvent.id))))
    assert kinds == ["assigned", "closed", "reopened", "unassigned"]
    # closing twice records one event; hostile ids are refused, not 500s
    desk.post(f"{page}/close")
    desk.post(f"{page}/close")
    assert query(lambda: db.session.scalar(select(db.func.count()).where(ThreadEvent.kind == "closed"))) == 2
    response = desk.post(f"{page}/assign", {"user_id": "999999"}, follow_redirects=True)
    assert response.status_code == 200 and "No such agent." in response.text
    for value in ("99999999999999999999999", "١٢", "1; DROP TABLE users", "\x00"):
        # refused by the desk's input guard before the view
        assert desk.post(f"{page}/assign", {"user_id": value}).status_code == 400


def test_invite_shows_a_password_once_and_the_new_agent_signs_in(app, desk, query):
    response = desk.post(
        "/admin/users",
        {"email": "New.Agent@Example.com", "name": "Nia", "role": "agent"},
        page="/admin/users",
    )
    assert response.status_code == 201
    password = response.text.split('id="invite-password">')[1].split("<")[0]
    assert len(password) >= 12
    assert password not in desk.html("/admin/users")  # shown once
    assert user_row(query, "new.agent@example.com").role == "agent"
    other = app.test_client()
    assert sign_in(other, "new.agent@example.com", password).status_code == 302
    assert other.get("/admin/settings").status_code == 403
    assert other.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    "form",
    [
        {"email": "not-an-email", "role": "agent"},
        {"email": EMAIL, "role": "agent"},  # exists already
        {"email": "a@example.com", "role": "owner"},
        {"email": "a\x00b@example.com", "role": "agent"},
        {"email": "x" * 400 + "@example.com", "role": "agent"},
        {"email": "b@example.com", "role": "agent", "name": "bad\x00name"},
    ],
)
def test_bad_invitations_are_refused_with_400(desk, form):
    response = desk.post("/admin/users", form, page="/admin/users")
    assert response.status_code == 400, response.text
    nul = any("\x00" in value for value in form.values())  # the desk's input guard answers first
    assert ("NUL" if nul else "flash-error") in response.text


def test_invite_escapes_hostile_names(desk):
    response = desk.post(
        "/admin/users",
        {"email": "x@example.com", "name": "<script>alert(1)</script>", "role": "agent"},
        page="/admin/users",
    )
    assert response.status_code == 201
    assert "<script>alert(1)" not in desk.html("/admin/users")


def test_set_role_and_the_last_admin_is_kept(app, desk, query, agent):
    helper = create_account(app, AGENT_EMAIL, role="agent")
    desk.post(f"/admin/users/{helper}/role", {"role": "admin"}, page="/admin/users")
    assert user_row(query, AGENT_EMAIL).role == "admin"
    desk.post(f"/admin/users/{helper}/role", {"role": "agent"})
    response = desk.post(f"/admin/users/{agent}/role", {"role": "agent"}, follow_redirects=True)
    assert "last active admin" in response.text
    assert user_row(query, EMAIL).role == "admin"
    response = desk.post(f"/admin/users/{agent}/active", {"active": "0"}, follow_redirects=True)
    assert "deactivate yourself" in response.text
    assert (
        desk.post(f"/admin/users/{helper}/role", {"role": "root"}, follow_redirects=True).status_code == 200
    )
    assert user_row(query, AGENT_EMAIL).role == "agent"
    assert desk.post("/admin/users/999999/role", {"role": "agent"}).status_code == 404


def test_deactivated_user_is_signed_out_and_cannot_sign_in(app, desk, query):
    helper = create_account(app, AGENT_EMAIL, role="agent")
    other = app.test_client()
    assert sign_in(other, AGENT_EMAIL).status_code == 302
    assert other.get("/admin/").status_code == 200
    desk.post(f"/admin/users/{helper}/active", {"active": "0"}, page="/admin/users")
    assert user_row(query, AGENT_EMAIL).active is False
    response = other.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert other.get("/admin/inbox.json").status_code in (302, 401)
    response = sign_in(app.test_client(), AGENT_EMAIL)
    assert response.status_code == 401
    desk.post(f"/admin/users/{helper}/active", {"active": "1"})
    assert sign_in(app.test_client(), AGENT_EMAIL).status_code == 302


def test_deactivated_agent_cannot_be_assigned(app, desk, make):
    helper = create_account(app, AGENT_EMAIL, role="agent", active=False)
    cid = make("+14155550122", [("inbound", "hello")])
    response = desk.post(
        f"/admin/conversations/{cid}/assign", {"user_id": str(helper)}, follow_redirects=True
    )
    assert "No such agent." in response.text


def test_cli_creates_an_agent(app, query):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "cli@example.com", "--role", "agent", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "Created agent cli@example.com" in result.output
    assert user_row(query, "cli@example.com").role == "agent"
    result = runner.invoke(args=["users", "create", "boss@example.com", "--password", PASSWORD])
    assert user_row(query, "boss@example.com").role == "admin"
    result = runner.invoke(
        args=["users", "create", "x@example.com", "--role", "owner", "--password", PASSWORD]
    )
    assert result.exit_code != 0


def test_admin_required_decorator(app, agent_desk, desk):
    from app.admin.roles import admin_required

    calls = []

    @admin_required
    def view():
        calls.append(1)
        return "ok"

    with app.test_request_context():
        from flask_login import login_user

        from app.accounts.models import User as U

        helper = db.session.scalar(select(U).where(U.email == AGENT_EMAIL))
        login_user(helper)
        with pytest.raises(Exception) as refused:
            view()
        assert getattr(refused.value, "code", None) == 403
        login_user(db.session.scalar(select(U).where(U.email == EMAIL)))
        assert view() == "ok"
        db.session.remove()
    assert calls == [1]


def test_desk_fixture_is_an_admin(desk: Desk):
    assert desk.get("/admin/users").status_code == 200
    assert desk.get("/admin/settings").status_code == 200
