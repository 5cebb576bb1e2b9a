"""Health, readiness, metrics, and what happens when the database is really down."""

from __future__ import annotations

import socket

import pytest

from app import create_app
from tests.conftest import WEBHOOK_SECRET, inbound_payload, post_signed_webhook, record_statements


def test_health_and_ready(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok"}


def test_metrics_counts_webhooks_and_queue(client, api):
    post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload("+14155550141", "hi"))
    client.post("/webhooks/telefonie/inbound", data=b"{}", content_type="application/json")
    api("POST", "/api/v1/messages", json={"to": "+14155550141", "from": "+12025550199", "body": "x"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'sms_webhooks_total{kind="inbound",outcome="stored"}' in text
    assert 'sms_webhooks_total{kind="inbound",outcome="rejected_401"}' in text
    assert "sms_queue_depth 1.0" in text
    assert 'sms_messages{direction="inbound",status="received"} 1.0' in text


@pytest.fixture
def app_without_database():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere",
            "SECRET_KEY": "x" * 32,
            "TELEFONIE_API_KEY": "k",
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}, "pool_pre_ping": True},
        }
    )


def test_database_down_webhook_answers_503_with_retry_after(app_without_database):
    client = app_without_database.test_client()
    resp = post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload("+14155550142", "hi"))
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert resp.get_json()["error"]["code"] == "storage_unavailable"
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("missing", ["DATABASE_URL", "SECRET_KEY", "TELEFONIE_API_KEY", "WEBHOOK_SECRET"])
def test_missing_setting_stops_with_one_line(monkeypatch, missing):
    from app import config

    monkeypatch.setattr(config, "DEV_SETTINGS_FILE", config.INSTANCE / "does-not-exist.env")
    env = {
        "DATABASE_URL": "sqlite://",
        "SECRET_KEY": "x" * 32,
        "TELEFONIE_API_KEY": "k",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    for key in env:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        if key != missing:
            monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exc:
        create_app()
    assert str(exc.value) == f"error: missing required setting {missing} (set it in the environment)"


def test_production_logs_are_one_json_object_a_line():
    import json
    import logging

    from app.logging import JsonFormatter

    record = logging.LogRecord("app.x", logging.WARNING, __file__, 1, "sent %s", ("<x>",), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["message"] == "sent <x>" and json.loads(line)["level"] == "warning"


def test_urls_follow_the_ports_unless_set(monkeypatch):
    from app import config

    monkeypatch.setattr(config, "DEV_SETTINGS_FILE", config.INSTANCE / "does-not-exist.env")
    cfg = config.load({"PORT": "6100", "SANDBOX_PORT": "6101"})
    assert cfg["PUBLIC_BASE_URL"] == "http://127.0.0.1:6100"
    assert cfg["TELEFONIE_BASE_URL"] == "http://127.0.0.1:6101/v1/sms"
    cfg = config.load({"PORT": "6100", "PUBLIC_BASE_URL": "https://sms.example.com/"})
    assert cfg["PUBLIC_BASE_URL"] == "https://sms.example.com"
    assert config.load({"APP_ENV": "production"})["LOG_FORMAT"] == "json"


def test_api_answers_503_with_retry_after_while_the_database_is_away(app_without_database):
    client = app_without_database.test_client()
    for method, path, body in [
        ("GET", "/api/v1/messages", None),
        ("POST", "/api/v1/messages", {"to": "+14155550142", "from": "+12025550199", "body": "hi"}),
        ("GET", "/api/v1/conversations/1", None),
    ]:
        resp = client.open(path, method=method, json=body, headers={"X-API-Key": "sk_anything"})
        assert resp.status_code == 503, resp.get_data(as_text=True)
        assert resp.headers["Retry-After"] == "5"
        assert resp.get_json()["error"]["code"] == "20503"


@pytest.fixture
def production_metrics(app, monkeypatch):
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    return app.test_client()


def test_metrics_in_production_need_the_bearer_token(production_metrics, app, monkeypatch):
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    monkeypatch.setitem(app.config, "METRICS_TOKEN", None)
    assert production_metrics.get("/metrics").status_code == 404  # not served without a token set
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token-for-prometheus")
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic czNjcmV0"},
        {"Authorization": "Bearer s3cret-token-for-prometheus-not"},
    ):
        resp = production_metrics.get("/metrics", headers=headers)
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    ok = production_metrics.get("/metrics", headers={"Authorization": "Bearer s3cret-token-for-prometheus"})
    assert ok.status_code == 200 and "sms_queue_depth" in ok.get_data(as_text=True)


def test_metrics_never_aggregate_the_messages_table(client, api, app):
    """Counters kept by triggers: a scrape reads the small counter tables, never `messages`."""
    from app.extensions import db

    for i in range(3):
        api("POST", "/api/v1/messages", json={"to": f"+1415555014{i}", "from": "+12025550199", "body": "x"})
    post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload("+14155550141", "hi"))
    with app.app_context():
        engine = db.engine
    with record_statements(engine) as statements:
        text = client.get("/metrics").get_data(as_text=True)
    assert not [s for s in statements if "messages" in s.replace("sms_messages", "")], statements
    assert "sms_queue_depth 3.0" in text
    assert 'sms_messages{direction="outbound",status="queued"} 3.0' in text
    assert 'sms_messages{direction="inbound",status="received"} 1.0' in text


def test_counters_follow_status_changes_and_deletes(client, api, app):
    """The trigger-kept counters equal a full count after inserts, updates, deletes and scrapes."""
    from sqlalchemy import func, select, update

    from app.conversations.models import Message
    from app.extensions import db
    from app.metrics import counters

    sids = [
        api(
            "POST", "/api/v1/messages", json={"to": "+14155550150", "from": "+12025550199", "body": f"{i}"}
        ).get_json()["id"]
        for i in range(4)
    ]
    client.get("/metrics")  # folds the deltas so far into the totals
    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.sid == sids[0])
            .values(status="sent", provider_id="p0", attempts=2, send_latency_ms=40)
        )
        db.session.execute(update(Message).where(Message.sid == sids[1]).values(status="failed", attempts=6))
        db.session.commit()
    assert api("DELETE", f"/api/v1/messages/{sids[2]}").status_code == 204
    for _ in range(2):
        with app.app_context():
            got = {k: v for k, v in counters().items() if v}
            truth = {
                ("messages", f"{d}:{s}"): n
                for d, s, n in db.session.execute(
                    select(Message.direction, Message.status, func.count()).group_by(
                        Message.direction, Message.status
                    )
                )
            }
            truth[("queue_depth", "")] = 1
            truth[("send_attempts", "")] = 8
            truth[("send_latency_count", "")] = 1
            truth[("send_latency_ms_sum", "")] = 40
            assert got == truth
            db.session.remove()
        client.get("/metrics")


def test_webhook_counters_add_up_across_processes(tmp_path, database_url, app):
    """prometheus_client multiprocess mode: two processes count, a third one's /metrics shows the sum."""
    import os
    import subprocess
    import sys
    import textwrap

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = "from app import metrics; metrics.webhooks.labels('inbound', 'stored').inc({n})"
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True, timeout=60)
    scrape = textwrap.dedent(
        f"""
        from app import create_app
        app = create_app({{"APP_ENV": "testing", "DATABASE_URL": {database_url!r}, "SECRET_KEY": "x" * 32,
                          "TELEFONIE_API_KEY": "k", "WEBHOOK_SECRET": {WEBHOOK_SECRET!r}}})
        print(app.test_client().get("/metrics").get_data(as_text=True))
        """
    )
    out = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, timeout=60, capture_output=True)
    assert 'sms_webhooks_total{kind="inbound",outcome="stored"} 5.0' in out.stdout.decode()


def test_the_counter_and_forward_triggers_survive_every_migration(app):
    """SQLite drops a table's triggers when a later migration rebuilds the table (batch mode):
    this fails if a migration after 0005 does that without recreating them."""
    from sqlalchemy import text

    from app.extensions import db

    expected = {
        "metric_messages_insert",
        "metric_messages_update",
        "metric_messages_delete",
        "callback_forward",
    }
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'"
        else:
            query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'messages'::regclass AND NOT tgisinternal"
        names = set(db.session.execute(text(query)).scalars())
        db.session.remove()
    assert expected <= names
