"""Health, readiness, metrics, and what happens when the database is really down."""

from __future__ import annotations

import socket

import pytest

from app import create_app
from tests.conftest import WEBHOOK_SECRET, inbound_payload, post_signed_webhook


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
