"""Issue 11 finding 5: API keys listed, revoked at once, expiring, read-only scoped, rate limited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts import ratelimit
from app.accounts.models import ApiKey, ApiRateWindow
from app.extensions import db
from app.types import utcnow


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def new_key(app, *args: str) -> str:
    result = cli(app, "api-keys", "create", *args)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def get(client, key: str, path: str = "/api/v1/messages"):
    return client.get(path, headers={"X-API-Key": key})


def test_list_shows_every_key_with_its_state(app, client):
    robot = new_key(app, "robot")
    new_key(app, "reader", "--scope", "read", "--expires-in-days", "30")
    assert get(client, robot).status_code == 200
    assert cli(app, "api-keys", "revoke", "reader").exit_code == 0

    result = cli(app, "api-keys", "list")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.strip().splitlines()
    assert header.split() == ["NAME", "PREFIX", "CREATED", "LAST", "USED", "SCOPE", "EXPIRES", "STATE"]
    robot_row = next(r for r in rows if r.startswith("robot "))
    reader_row = next(r for r in rows if r.startswith("reader "))
    assert robot[:10] in robot_row and robot_row.split()[-1] == "active"
    assert "never" not in robot_row.split()[4]  # last used
    assert reader_row.split()[-1] == "revoked" and " read " in reader_row
    assert robot not in result.output  # only the prefix, never the key


def test_revoke_is_immediate_and_names_the_key(app, client):
    key = new_key(app, "robot")
    assert get(client, key).status_code == 200
    result = cli(app, "api-keys", "revoke", "robot")
    assert result.exit_code == 0 and "robot" in result.output
    response = get(client, key)
    assert response.status_code == 401 and response.json["error"]["code"] == "20003"
    again = cli(app, "api-keys", "revoke", "robot")
    assert again.exit_code != 0 and "no active API key named 'robot'" in again.output
    # the name is free again once revoked; an active duplicate is refused
    assert get(client, new_key(app, "robot")).status_code == 200
    assert cli(app, "api-keys", "create", "robot").exit_code != 0


def test_unique_adds_a_suffix_so_the_command_can_run_again(app, client):
    """The quick start's `api-keys create my-script --unique` works every time it is run."""
    first, second = new_key(app, "my-script", "--unique"), new_key(app, "my-script", "--unique")
    assert first != second
    assert get(client, first).status_code == 200 and get(client, second).status_code == 200
    with app.app_context():
        names = [k.name for k in db.session.scalars(select(ApiKey).order_by(ApiKey.id))]
    suffixed = [n for n in names if n.startswith("my-script-")]
    assert len(suffixed) == 2 and len(set(suffixed)) == 2 and "my-script" not in names
    assert all(len(n) == len("my-script-") + 6 for n in suffixed)
    assert new_key(app, "x" * 100, "--unique")  # the suffix keeps a long name within 100 characters


def test_expired_keys_answer_401(app, client):
    key = new_key(app, "soon", "--expires-in-days", "1")
    assert get(client, key).status_code == 200
    with app.app_context():
        row = db.session.scalar(select(ApiKey).where(ApiKey.name == "soon"))
        assert timedelta(hours=23) < row.expires_at - utcnow() <= timedelta(days=1)
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()
    assert get(client, key).status_code == 401
    assert "expired" in cli(app, "api-keys", "list").output


def test_expiry_by_date(app):
    result = cli(app, "api-keys", "create", "dated", "--expires", "2099-01-31")
    assert result.exit_code == 0 and "expires 2099-01-31 00:00 UTC" in result.output
    assert result.output.strip().splitlines()[-1].startswith("sk_")


@pytest.mark.parametrize(
    "args",
    [
        ["past", "--expires", "2001-01-01"],
        ["bad", "--expires", "31/01/2099"],
        ["both", "--expires", "2099-01-01", "--expires-in-days", "3"],
        ["zero", "--expires-in-days", "0"],
        ["huge", "--expires-in-days", "99999999999999999999"],
        ["scoped", "--scope", "admin"],
        ["nul\x00name"],
        ["bell\x07"],
        ["\udcff"],
        ["x" * 101],
        ["   "],
    ],
)
def test_bad_create_arguments_are_refused_cleanly(app, args):
    result = cli(app, "api-keys", "create", *args)
    assert result.exit_code in (1, 2), result.output  # a usage error or a clear message
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith(("Error:", "Usage:")), result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0


@pytest.mark.parametrize("name", ["nul\x00name", "\udcff", "x" * 5000, "", "%s", "' OR 1=1 --"])
def test_revoking_a_hostile_name_is_a_clean_error(app, name):
    new_key(app, "robot")
    result = cli(app, "api-keys", "revoke", name)
    assert result.exit_code == 1 and result.output.startswith("Error: no active API key named")
    assert "active" in cli(app, "api-keys", "list").output


def test_hostile_names_are_harmless(app, client):
    name = "<script>alert(1)</script>'; DROP TABLE api_keys; --"
    key = new_key(app, name)
    assert name in cli(app, "api-keys", "list").output
    assert cli(app, "api-keys", "revoke", name).exit_code == 0
    assert get(client, key).status_code == 401


WRITES = [
    ("POST", "/api/v1/messages", {"to": "+14155550100", "from": "+12025550199", "body": "hi"}),
    ("DELETE", "/api/v1/messages/1", None),
    ("POST", "/api/v1/rules", {"name": "x", "patterns": ["X"], "reply": "y"}),
    ("PUT", "/api/v1/rules/1", {"name": "x", "patterns": ["X"], "reply": "y"}),
    ("DELETE", "/api/v1/rules/1", None),
    ("POST", "/api/v1/rules/test", {"from": "+14155550100", "to": "+12025550199", "body": "hi"}),
    ("POST", "/api/v1/contacts/+14155550100/opt-out", None),
    ("POST", "/api/v1/contacts/+14155550100/opt-in", None),
    ("POST", "/api/v1/conversations/1/messages", {"body": "hi"}),
    ("POST", "/api/v1/campaigns", {"name": "c", "from": "+12025550199", "body": "b", "recipients": []}),
    ("POST", "/api/v1/campaigns/1/pause", None),
    ("POST", "/api/v1/campaigns/1/cancel", None),
]


def test_read_only_keys_get_403_on_every_write_and_may_read(app, client):
    reader = new_key(app, "reader", "--scope", "read")
    for method, path, body in WRITES:
        response = client.open(path, method=method, json=body, headers={"X-API-Key": reader})
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json["error"]["code"] == "20403"
    for path in ["/api/v1/messages", "/api/v1/rules", "/api/v1/conversations"]:
        assert get(client, reader, path).status_code == 200, path
    with app.app_context():  # nothing was written by the refused calls
        from app.consent.models import ConsentEvent
        from app.conversations.models import Message
        from app.rules.models import Rule

        for model in (Message, Rule, ConsentEvent):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_a_write_key_may_write(api):
    response = api("POST", "/api/v1/contacts/+14155550100/opt-out")
    assert response.status_code in (200, 201, 204), response.status_code


def test_last_used_is_written_at_most_once_a_minute(app, client, count_writes):
    key = new_key(app, "robot")
    assert get(client, key).status_code == 200
    with app.app_context():
        first = db.session.scalar(select(ApiKey.last_used_at))
        db.session.remove()
    assert first is not None and utcnow() - first < timedelta(seconds=30)
    writes = count_writes(lambda: [get(client, key) for _ in range(5)])
    assert not [s for s in writes if "api_keys" in s], writes
    with app.app_context():
        assert db.session.scalar(select(ApiKey.last_used_at)) == first


@pytest.fixture
def count_writes(app):
    from sqlalchemy import event

    def run(fn) -> list[str]:
        seen: list[str] = []

        def listen(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
                seen.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", listen)
        try:
            fn()
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        return seen

    return run


@pytest.fixture
def rate_limit(app, monkeypatch):
    """A small limit, and a clock that stays inside one window (no flake at a minute's edge)."""
    now = [1_800_000_010.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3/minute")
    return now


def test_rate_limit_per_key_answers_429_with_retry_after(app, client, rate_limit):
    key, other = new_key(app, "robot"), new_key(app, "other")
    assert [get(client, key).status_code for _ in range(3)] == [200, 200, 200]
    refused = get(client, key)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "20429"
    assert refused.headers["Retry-After"] == "50"
    assert client.post("/api/v1/rules", json={}, headers={"X-API-Key": key}).status_code == 429
    assert get(client, other).status_code == 200  # per key
    rate_limit[0] += 50  # the next window
    assert get(client, key).status_code == 200
    with app.app_context():  # old windows are cleared as new ones start
        assert db.session.scalar(select(func.count()).select_from(ApiRateWindow)) == 2


def test_rate_limit_is_shared_by_every_process(app, client, rate_limit, database_url):
    """A second app (as another gunicorn worker or machine would be) sees the same count."""
    from app import create_app

    key = new_key(app, "robot")
    same = {k: app.config[k] for k in ("SECRET_KEY", "TELEFONIE_API_KEY", "WEBHOOK_SECRET")}
    second = create_app(
        {**same, "DATABASE_URL": database_url, "APP_ENV": "testing", "API_RATE_LIMIT": "3/minute"}
    )
    other_client = second.test_client()
    codes = [get(c, key).status_code for c in (client, other_client, client, other_client)]
    assert codes == [200, 200, 200, 429]
    with second.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("value", ["600/minute", "10 per second", "5/hours", "off", "0"])
def test_rate_limit_setting_parses(value):
    ratelimit.parse(value)


@pytest.mark.parametrize(
    "value", ["fast", "600", "-1/minute", "1/fortnight", "9" * 30 + "/minute", "²/minute", "\x00"]
)
def test_rate_limit_setting_refuses_nonsense(value):
    with pytest.raises(ValueError, match="API_RATE_LIMIT"):
        ratelimit.parse(value)
