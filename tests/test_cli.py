"""Command-line interface: users, API keys, the sandbox's inbound message."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import ApiKey, User
from app.extensions import db
from tests.conftest import wait_until


def test_users_create(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Agent@Example.com", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["users", "create", "agent@example.com", "--password", "s3cret-pass"])
    assert again.exit_code != 0 and "exists" in again.output
    short = runner.invoke(args=["users", "create", "b@example.com", "--password", "short"])
    assert short.exit_code != 0 and "8 characters" in short.output
    prompted = runner.invoke(
        args=["users", "create", "c@example.com"], input="long-password\nlong-password\n"
    )
    assert prompted.exit_code == 0
    with app.app_context():
        emails = sorted(db.session.scalars(select(User.email)))
        assert emails == ["agent@example.com", "c@example.com"]
        assert "s3cret" not in db.session.scalar(select(User.password_hash).limit(1))


def test_api_keys_create_prints_key_last_and_stores_hash(app, client):
    result = app.test_cli_runner().invoke(args=["api-keys", "create", "robot"])
    assert result.exit_code == 0
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("sk_") and len(key) > 30
    with app.app_context():
        assert db.session.scalar(select(ApiKey.key_hash)) != key
    assert client.get("/api/v1/messages", headers={"X-API-Key": key}).status_code == 200
    empty = app.test_cli_runner().invoke(args=["api-keys", "create", " "])
    assert empty.exit_code != 0


def test_sandbox_inbound_command(app, sandbox):
    result = app.test_cli_runner().invoke(
        args=[
            "sandbox",
            "inbound",
            "--from",
            "+14155550161",
            "--to",
            "+12025550199",
            "--body",
            "hello from a shell",
        ]
    )
    assert result.exit_code == 0, result.output
    from app.conversations.models import Message

    def stored():
        with app.app_context():
            body = db.session.scalar(select(Message.body).where(Message.direction == "inbound"))
            db.session.remove()
            return body

    assert wait_until(stored) == "hello from a shell"
    bad = app.test_cli_runner().invoke(args=["sandbox", "inbound", "--from", "x", "--to", "y", "--body", "z"])
    assert bad.exit_code != 0 and "400" in bad.output
