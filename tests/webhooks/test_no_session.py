"""Provider webhooks carry no cookie and get no cookie session (app.WebhookFreeSessions)."""

from __future__ import annotations

import pytest
from flask import session
from flask.sessions import NullSession, SecureCookieSession

from tests.conftest import inbound_payload, post_signed_webhook


def test_a_webhook_request_gets_the_null_session(app):
    with app.test_request_context("/webhooks/telefonie/inbound", method="POST"):
        app.preprocess_request()
        assert isinstance(session._get_current_object(), NullSession)
        with pytest.raises(RuntimeError):
            session["x"] = 1  # writing to it is a bug, and says so


@pytest.mark.parametrize(
    "path", ["/admin/login", "/webhooks", "/webhooksx/telefonie/inbound", "/api/v1/messages"]
)
def test_every_other_request_keeps_its_cookie_session(app, path):
    with app.test_request_context(path):
        app.preprocess_request()
        current = session._get_current_object()
        assert isinstance(current, SecureCookieSession) and not isinstance(current, NullSession)


def test_a_webhook_with_a_cookie_is_stored_and_sets_no_cookie(app, client):
    client.set_cookie("session", "not-a-valid-signed-cookie")
    resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload("+14155550202", "hi"))
    assert resp.status_code == 204
    assert "Set-Cookie" not in resp.headers
