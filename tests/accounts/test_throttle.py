"""Issue 11 finding 7: the sign-in throttle cannot be raced, holds across processes, and sign-in
takes the same work whether or not the email exists."""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.accounts import service, throttle
from tests.admin.conftest import EMAIL, PASSWORD, sign_in

PARALLEL = 40
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def password_checks(monkeypatch) -> list[str]:
    """Every password check made by sign-in, counted where it happens."""
    seen: list[str] = []
    real = service.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        seen.append(password)
        return real(pwhash, password)

    monkeypatch.setattr(service, "check_password_hash", counting)
    return seen


def browser(base: str) -> tuple[requests.Session, str]:
    http = requests.Session()
    page = http.get(base + "/admin/login", timeout=60)
    return http, TOKEN.search(page.text).group(1)


def test_parallel_tries_against_a_real_server_get_at_most_the_limit_checked(
    live_server, agent, password_checks
):
    base = live_server.url
    browsers = [browser(base) for _ in range(PARALLEL)]
    start = threading.Barrier(PARALLEL)

    def attempt(i: int) -> int:
        http, token = browsers[i]
        start.wait(timeout=60)
        data = {"email": EMAIL, "password": f"wrong guess {i}", "csrf_token": token}
        return http.post(base + "/admin/login", data=data, allow_redirects=False, timeout=120).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        codes = list(pool.map(attempt, range(PARALLEL)))
    assert sorted(codes) == [401] * throttle.LIMIT + [429] * (PARALLEL - throttle.LIMIT), codes
    assert len(password_checks) == throttle.LIMIT
    # and the right password is refused too until the window passes
    http, token = browser(base)
    right = http.post(
        base + "/admin/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    assert right.status_code == 429 and int(right.headers["Retry-After"]) <= throttle.WINDOW
    assert len(password_checks) == throttle.LIMIT


def test_the_count_is_shared_by_every_process(app, client, agent, database_url, password_checks):
    """A second app on the same database, as a second gunicorn worker or machine would be."""
    from app import create_app
    from app.extensions import db

    same = {k: app.config[k] for k in ("SECRET_KEY", "TELEFONIE_API_KEY", "WEBHOOK_SECRET")}
    second = create_app({**same, "DATABASE_URL": database_url, "APP_ENV": "testing"}).test_client()
    codes = [sign_in(c, password="wrong guess").status_code for c in [client, second] * 3]
    assert codes == [401] * 5 + [429]
    assert len(password_checks) == 5
    with second.application.app_context():
        db.engine.dispose()


def test_the_window_passes(app, client, agent, monkeypatch):
    now = [1_800_000_000.0]
    monkeypatch.setattr(throttle.time, "time", lambda: now[0])
    for _ in range(throttle.LIMIT):
        assert sign_in(client, password="wrong guess").status_code == 401
    refused = sign_in(client, password="wrong guess")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(throttle.WINDOW)
    now[0] += throttle.WINDOW - 60
    assert sign_in(client).status_code == 429
    now[0] += 61
    assert sign_in(client).status_code == 302


@pytest.mark.parametrize(
    "email",
    ["nobody@example.com", "", "\x00@x", "a" * 10_000, "' OR 1=1 --", "ünïcødé@例え.jp", EMAIL + "\x00"],
)
def test_one_password_hash_whatever_the_email(app, client, agent, monkeypatch, email):
    """Timing must not tell which emails exist: an unknown email costs exactly one hash with the
    same method as a real one (the old code made a fresh hash and then checked it: two)."""
    client.get("/admin/login")  # the page is shown before a sign-in; it prepares the dummy hash
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    assert sign_in(client, email=EMAIL, password="wrong password").status_code == 401
    known = len(calls)
    calls.clear()
    if "\x00" in email:  # refused by the desk's input guard before any lookup: no hash at all
        assert sign_in(client, email=email, password="wrong password").status_code == 400
        assert known == 1 and calls == []
        return
    assert sign_in(client, email=email, password="wrong password").status_code == 401
    assert known == 1 and len(calls) == known
