"""Issue 11 finding 6: sessions rotated at sign-in, ended server-side at sign-out, time-limited."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import func, select

from app.accounts.models import AdminSession
from app.extensions import db
from tests.admin.conftest import csrf_of, sign_in


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def sessions_in_table(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(AdminSession))
        finally:
            db.session.remove()


def test_a_cookie_replayed_after_sign_out_is_refused(app, client, agent):
    assert sign_in(client).status_code == 302
    stolen = session_cookie(client)
    assert client.get("/admin/").status_code == 200
    token = csrf_of(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert sessions_in_table(app) == 0

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert replay.get("/admin/inbox.json").status_code == 401


def test_sign_in_rotates_the_session(app, client, agent):
    client.get("/admin/login")
    anonymous = session_cookie(client)
    assert sign_in(client).status_code == 302
    first = session_cookie(client)
    assert first != anonymous
    # signing in again from the same browser replaces its session: the earlier cookie is dead
    client.post("/admin/logout", data={"csrf_token": csrf_of(client.get("/admin/").get_data(as_text=True))})
    assert sign_in(client).status_code == 302
    second = session_cookie(client)
    assert second != first and sessions_in_table(app) == 1
    old = app.test_client()
    old.set_cookie("session", first)
    assert old.get("/admin/").status_code == 302
    # a cookie fixed before sign-in (session fixation) is not signed in by the victim's sign-in
    fixed = app.test_client()
    fixed.set_cookie("session", anonymous)
    assert fixed.get("/admin/").status_code == 302


def test_two_browsers_have_separate_sessions(app, agent):
    one, two = app.test_client(), app.test_client()
    assert sign_in(one).status_code == 302 and sign_in(two).status_code == 302
    one.post("/admin/logout", data={"csrf_token": csrf_of(one.get("/admin/").get_data(as_text=True))})
    assert one.get("/admin/").status_code == 302
    assert two.get("/admin/").status_code == 200


def test_sessions_expire_server_side(app, client, agent):
    lifetime = app.config["SESSION_LIFETIME"]
    assert 3600 <= lifetime <= 24 * 3600
    with freeze_time(tick=True) as frozen:
        assert sign_in(client).status_code == 302
        cookie = client.get_cookie("session")
        assert cookie.expires is not None  # a permanent, time-limited cookie
        assert client.get("/admin/").status_code == 200
        frozen.tick(timedelta(seconds=lifetime + 60))
        replay = app.test_client()
        replay.set_cookie("session", cookie.value)  # even a cookie kept past its expiry
        assert replay.get("/admin/").status_code == 302


def test_csrf_tokens_expire(app, client, agent):
    limit = app.config["WTF_CSRF_TIME_LIMIT"]
    assert limit and 600 <= limit <= 24 * 3600
    with freeze_time(tick=True) as frozen:
        assert sign_in(client).status_code == 302
        token = csrf_of(client.get("/admin/").get_data(as_text=True))
        frozen.tick(timedelta(seconds=limit + 60))
        response = client.post("/admin/logout", data={"csrf_token": token})
        assert response.status_code == 400
        assert "expired" in response.get_data(as_text=True)
        fresh = csrf_of(client.get("/admin/").get_data(as_text=True))
        assert client.post("/admin/logout", data={"csrf_token": fresh}).status_code == 302


def test_a_forged_or_hostile_session_token_is_refused(app, agent):
    from app.accounts import sessions

    with app.app_context():
        for token in ["", "x" * 5000, "\x00", "' OR 1=1 --", "\ud800", None, 12]:
            assert sessions.user_for(token, 1) is None
