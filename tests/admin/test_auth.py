"""Sign-in, sign-out, the login guard on every admin URL, the throttle, security headers."""

from __future__ import annotations

import re

import pytest

from app.admin.security import CSP

from .conftest import EMAIL, PASSWORD, csrf_of, sign_in

SAMPLE_ARGS = {
    "conversation_id": 1,
    "message_id": 1,
    "rule_id": 1,
    "keyword_id": 1,
    "phone": "+14155550123",
    "reply_id": 1,
    "user_id": 1,
    "campaign_id": 1,
    "action": "pause",
}
OPEN = ("admin.login", "admin.static")


def admin_urls(app) -> list[tuple[str, str, str]]:
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin.") or rule.endpoint in OPEN:
                continue
            path = rule.build({k: SAMPLE_ARGS[k] for k in rule.arguments}, append_unknown=False)[1]
            for method in sorted(rule.methods & {"GET", "POST"}):
                urls.append((rule.endpoint, method, path))
    return urls


def refused(response) -> bool:
    if response.status_code in (401, 403, 405):
        return True
    return response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_every_admin_url_refuses_anonymous_visitors(app, client):
    urls = admin_urls(app)
    assert len(urls) > 25  # the walk found the admin's pages and actions
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    for endpoint, method, path in urls:
        if method == "GET":
            response = client.get(path)
        else:  # with a valid CSRF token, so the login guard (not CSRF) is what refuses
            response = client.post(path, data={"csrf_token": token, "body": "hi"})
        assert refused(response), (endpoint, method, path, response.status_code)


def test_anonymous_json_poll_gets_401(client):
    response = client.get("/admin/inbox.json")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_anonymous_page_redirects_to_login_with_next(client):
    response = client.get("/admin/rules?x=1")
    assert response.status_code == 302
    assert "/admin/login?next=/admin/rules" in response.headers["Location"].replace("%2F", "/").replace(
        "%3F", "?"
    )


def test_login_works_and_follows_a_safe_next(client, agent):
    page = client.get("/admin/login?next=/admin/rules")
    token = csrf_of(page.get_data(as_text=True))
    response = client.post(
        "/admin/login",
        data={"email": EMAIL.upper(), "password": PASSWORD, "csrf_token": token, "next": "/admin/rules"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/rules")
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/admin", "/admin\\..\\x", "/other"]
)
def test_login_ignores_an_unsafe_next(client, agent, target):
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token, "next": target}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_wrong_password_is_401(client, agent):
    response = sign_in(client, password="not the password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_unknown_email_is_401(client, agent):
    assert sign_in(client, email="nobody@example.com").status_code == 401


def test_sixth_failure_is_429_with_retry_after(client, agent):
    for _ in range(5):
        assert sign_in(client, password="wrong password").status_code == 401
    response = sign_in(client, password="wrong password")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60 + 1
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    # the right password does not get through the throttle either
    assert sign_in(client).status_code == 429
    # another email from the same address is counted separately
    assert sign_in(client, email="other@example.com", password="x").status_code == 401


def test_a_success_clears_the_failures(client, agent):
    for _ in range(4):
        sign_in(client, password="wrong password")
    assert sign_in(client).status_code == 302
    client.post("/admin/logout", data={"csrf_token": csrf_of(client.get("/admin/").get_data(as_text=True))})
    for _ in range(5):
        assert sign_in(client, password="wrong password").status_code == 401


def test_logout_needs_post_and_csrf(desk):
    assert desk.client.get("/admin/logout").status_code == 405
    assert desk.client.post("/admin/logout").status_code == 400  # no token
    assert desk.client.get("/admin/").status_code == 200
    response = desk.post("/admin/logout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/login")
    assert desk.client.get("/admin/").status_code == 302


def test_login_form_without_csrf_token_is_refused(client, agent):
    response = client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("path", ["/admin/login", "/admin/", "/admin/static/admin.css"])
def test_security_headers(desk, path):
    response = desk.client.get(path, follow_redirects=False)
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_flags(client, agent):
    response = sign_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_have_no_inline_script_or_style(desk, make):
    make("+14155550123", [("inbound", "hello")])
    for path in [
        "/admin/",
        "/admin/login",
        "/admin/rules",
        "/admin/contacts",
        "/admin/consent",
        "/admin/settings",
        "/admin/overview",
        "/admin/rules/new",
    ]:
        html = desk.client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path
