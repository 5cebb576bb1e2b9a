"""Domain events as one log line each, with ids and no message text outside development
(issue 12, finding 8); the sandbox's access log quiet unless SANDBOX_ACCESS_LOG=1."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app.campaigns import intake
from app.campaigns import service as campaigns
from app.events import log_event
from app.extensions import db
from app.logging import JsonFormatter
from tests.conftest import OUR, TELEFONIE_KEY, free_port, inbound_payload, post_signed_webhook, wait_until

SECRET = "secret-words-4711"
ROOT = Path(__file__).resolve().parent.parent


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def events(self, name: str) -> list[dict]:
        return [r.event_fields for r in list(self.records) if getattr(r, "event", None) == name]

    def lines(self) -> list[str]:
        return [r.getMessage() for r in list(self.records)]


@pytest.fixture
def events():
    handler = Collect()
    logger = logging.getLogger("app.events")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_inbound_reply_and_consent_events(client, api, events):
    rule = {"name": "Hours", "match": "first_word", "patterns": ["HOURS"], "reply": f"We open at 9 {SECRET}"}
    assert api("POST", "/api/v1/rules", json=rule).status_code == 201
    frm = "+14155550161"
    assert (
        post_signed_webhook(
            client, "/webhooks/telefonie/inbound", inbound_payload(frm, f"hours {SECRET}")
        ).status_code
        == 204
    )
    assert (
        post_signed_webhook(client, "/webhooks/telefonie/inbound", inbound_payload(frm, "STOP")).status_code
        == 204
    )

    stored = events.events("inbound_stored")
    assert len(stored) == 2 and all(isinstance(e["message_id"], int) and e["conversation_id"] for e in stored)
    queued = events.events("reply_queued")
    assert [e["source"] for e in queued] == ["rule", "consent"]
    assert all(e["conversation_id"] == stored[0]["conversation_id"] for e in queued)
    changed = events.events("consent_changed")
    assert changed == [
        {"contact_id": changed[0]["contact_id"], "action": "opt_out", "source": "keyword", "actor": None}
    ]
    lines = events.lines()
    assert all("\n" not in line and line.startswith("event=") for line in lines)
    assert not any(SECRET in line for line in lines)  # APP_ENV is not development: no message text


def test_send_attempt_outcomes(app, api, sandbox, worker, events):
    sandbox.faults("error_500", count=1)
    sent = api("POST", "/api/v1/messages", json={"to": "+14155550162", "from": OUR, "body": "hello"})
    assert sent.status_code == 201
    outcomes = wait_until(
        lambda: [e["outcome"] for e in events.events("send_attempt")] == ["error", "sent"] and True, 20
    )
    assert outcomes, events.events("send_attempt")
    refused = api("POST", "/api/v1/messages", json={"to": "+12025550103", "from": OUR, "body": "hello"})
    assert refused.status_code == 201
    assert wait_until(
        lambda: any(e["outcome"] == "failed" and e["code"] == 21211 for e in events.events("send_attempt")),
        20,
    )
    attempts = events.events("send_attempt")
    assert [e["attempt"] for e in attempts[:2]] == [1, 2] and all(
        isinstance(e["message_id"], int) for e in attempts
    )


def test_campaign_state_changes(app_ctx, events):
    campaign = intake.create(
        {"name": "July", "from": OUR, "body": "Sale", "recipients": ["+12125550100"], "rate_per_minute": 60}
    )
    db.session.commit()
    campaigns.pause(campaign)
    campaigns.resume(campaign)
    campaigns.cancel(campaign)
    db.session.commit()
    states = [(e["campaign_id"], e["action"], e["status"]) for e in events.events("campaign_state")]
    assert states == [
        (campaign.id, "create", "running"),
        (campaign.id, "pause", "paused"),
        (campaign.id, "resume", "running"),
        (campaign.id, "cancel", "cancelled"),
    ]


def test_production_lines_are_json_without_bodies(app, events):
    handler = logging.StreamHandler(stream := __import__("io").StringIO())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("app.events")
    logger.addHandler(handler)
    try:
        with app.app_context():  # APP_ENV "testing": like production, no text
            log_event(
                "inbound_stored", message_id=7, conversation_id=3, body=f"hi {SECRET}", note="two\nlines"
            )
        app.config["APP_ENV"] = "development"
        try:
            with app.app_context():
                log_event("reply_queued", message_id=8, body="visible in development")
        finally:
            app.config["APP_ENV"] = "testing"
    finally:
        logger.removeHandler(handler)
    first, second = stream.getvalue().splitlines()
    data = json.loads(first)
    assert data["event"] == "inbound_stored" and data["message_id"] == 7 and data["conversation_id"] == 3
    assert "body" not in data and SECRET not in first and data["note"] == "two\nlines"
    assert json.loads(second)["body"] == "visible in development"
    assert events.lines()[0] == 'event=inbound_stored message_id=7 conversation_id=3 note="two\\nlines"'


def run_sandbox(tmp_path, access_log: str | None) -> str:
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_PORT": str(port),
        "TELEFONIE_API_KEY": TELEFONIE_KEY,
        "WEBHOOK_SECRET": "whsec_" + "A" * 44,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SANDBOX_ACCESS_LOG", None)
    if access_log is not None:
        env["SANDBOX_ACCESS_LOG"] = access_log
    log = tmp_path / f"sandbox-{access_log}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.sandbox"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}/v1/sms/messages"
            deadline = time.time() + 30
            while True:
                try:
                    assert (
                        requests.get(url, headers={"X-API-Key": TELEFONIE_KEY}, timeout=5).status_code == 200
                    )
                    break
                except requests.ConnectionError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            requests.get(url + "?page=2", headers={"X-API-Key": TELEFONIE_KEY}, timeout=5)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    return log.read_text()


def test_sandbox_access_log_is_quiet_by_default(tmp_path):
    quiet = run_sandbox(tmp_path, None)
    assert "Telefonie sandbox on" in quiet and "GET /v1/sms/messages" not in quiet
    loud = run_sandbox(tmp_path, "1")
    assert "GET /v1/sms/messages?page=2" in loud
