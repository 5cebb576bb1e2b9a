"""Issue 11, finding 4 (the admin): huge integers, NUL and surrogates in admin URL ids and query
or form parameters answer 400 or 404, never 500 (on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.admin.conftest import csrf_of

HUGE = "144756757483453474801520214016"


def cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture
def thread_id(make) -> int:
    return make("+14155550161", [("inbound", "hello")])


GETS = [
    (f"/admin/conversations/{HUGE}", 404),
    ("/admin/conversations/2147483648", 404),
    (f"/admin/conversations/{HUGE}/messages.json", 404),
    (f"/admin/messages/{HUGE}/receipts.json", 404),
    (f"/admin/rules/{HUGE}", 404),
    ("/admin/conversations/{id}?before=" + HUGE, 400),
    ("/admin/conversations/{id}/messages.json?after=" + HUGE, 400),
    ("/admin/conversations/{id}/messages.json?after=%C2%B2", 400),
    ("/admin/contacts?before=" + HUGE, 400),
    ("/admin/consent?before=-" + HUGE, 400),
    ("/admin/?q=%00", 400),
    ("/admin/?q=a%00b&filter=open", 400),
    ("/admin/contacts?q=%00", 400),
    ("/admin/?filter=%00", 400),
    ("/admin/?cursor=" + cursor(["2026-11-29T00:00:00+00:00", int(HUGE)]), 400),
    ("/admin/?cursor=" + cursor(["2026-11-29T00:00:00+00:00", -1]), 400),
    ("/admin/?cursor=" + base64.urlsafe_b64encode(b"[" * 1500).decode(), 400),
    ("/admin/?cursor=" + base64.urlsafe_b64encode(b"[" * 150).decode(), 200),  # not a cursor: flashed
    ("/admin/?cursor=%ED%A0%80", 200),  # a UTF-8-encoded surrogate is decoded as U+FFFD
    ("/admin/?q=%ED%A0%80", 200),
    ("/admin/?cursor=" + cursor(["0001-01-01T00:00:00+14:00", 1]), 200),
    ("/admin/conversations/{id}?before=%C2%B2", 400),  # "²" is a digit to str.isdigit, not to int()
]


@pytest.mark.parametrize(("url", "expected"), GETS)
def test_hostile_gets(desk, thread_id, url, expected):
    response = desk.get(url.replace("{id}", str(thread_id)))
    assert response.status_code == expected, (url, response.status_code)


@pytest.mark.parametrize("user_id", ["²", HUGE, "1\x00"])
def test_hostile_assign(desk, thread_id, user_id):
    response = desk.post(f"/admin/conversations/{thread_id}/assign", {"user_id": user_id})
    assert response.status_code == 400


@pytest.mark.parametrize("body", ["a\x00b", "\x00"])
def test_nul_in_a_reply_is_refused(desk, thread_id, body):
    response = desk.post(f"/admin/conversations/{thread_id}/reply", {"body": body})
    assert response.status_code == 400


def test_nul_in_the_sign_in_form(client):
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"email": "a\x00@example.com", "password": "x", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 400
