"""Campaigns through real delivery workers and the sandbox over HTTP: delivered once per recipient,
even when a worker is SIGKILLed mid-campaign and two workers run; a STOP mid-campaign stops the rest."""

from __future__ import annotations

from collections import Counter

import pytest

from app.conversations.service import get_or_create_contact
from app.extensions import db
from tests.campaigns.helpers import numbers_inside_the_window, worker_processes
from tests.conftest import OUR, wait_until


@pytest.fixture
def workers(database_url, live_server, sandbox_server, sandbox, tmp_path):
    yield from worker_processes(database_url, live_server, sandbox_server, tmp_path)


def counts(api, cid: int) -> dict:
    return api("GET", f"/api/v1/campaigns/{cid}").get_json()["counts"]


def test_campaign_reaches_the_sandbox(app, api, worker, sandbox) -> None:
    recipient, opted_out = numbers_inside_the_window(2)
    with app.app_context():
        get_or_create_contact(opted_out).opted_out = True
        db.session.commit()
        db.session.remove()
    r = api(
        "POST",
        "/api/v1/campaigns",
        json={
            "name": "e2e",
            "from": OUR,
            "body": "Hello {{ name }}",
            "recipients": [{"phone": recipient, "name": "Ann"}, opted_out, "bad"],
        },
    )
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]

    result = wait_until(lambda: counts(api, cid)["delivered"] == 1 and counts(api, cid), timeout=30)
    assert result, counts(api, cid)
    assert result["skipped_opted_out"] == 1 and result["skipped_invalid"] == 1 and result["total"] == 3
    sent = sandbox.sent_to(recipient)
    assert [m["body"] for m in sent] == ["Hello Ann"]
    assert sent[0]["from"] == OUR
    assert sandbox.sent_to(opted_out) == []
    message = api("GET", f"/api/v1/campaigns/{cid}/recipients").get_json()["recipients"][0]
    assert message["status"] == "delivered" and message["message_id"].startswith("SM")
    assert api("GET", f"/api/v1/messages/{message['message_id']}").get_json()["campaign_id"] == cid


def test_sigkill_mid_campaign_and_two_workers_reach_each_recipient_once(api, sandbox, workers) -> None:
    phones = numbers_inside_the_window(60)
    r = api(
        "POST",
        "/api/v1/campaigns",
        json={"name": "kill", "from": OUR, "body": "Once only", "recipients": phones, "rate_per_minute": 600},
    )
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]
    first = workers.start()
    started = wait_until(lambda: _sent(sandbox) >= 10, 60, 0.1)
    assert started, workers.logs()
    workers.kill(first)  # SIGKILL: whatever it was doing is cut short
    workers.start()
    workers.start()
    done = wait_until(lambda: counts(api, cid)["delivered"] == len(phones), timeout=90, every=0.5)
    assert done, (counts(api, cid), workers.logs())
    at_sandbox = Counter(m["to"] for m in sandbox.messages() if m["direction"] == "outbound")
    assert at_sandbox == Counter({phone: 1 for phone in phones})
    assert wait_until(lambda: api("GET", f"/api/v1/campaigns/{cid}").get_json()["status"] == "completed", 10)


def _sent(sandbox) -> int:
    return sum(1 for m in sandbox.messages() if m["direction"] == "outbound")


def test_stop_mid_campaign_stops_the_rest_for_that_contact(api, sandbox, worker) -> None:
    phones = numbers_inside_the_window(3)
    r = api(
        "POST",
        "/api/v1/campaigns",
        json={"name": "stop", "from": [OUR], "body": "Deal", "recipients": phones, "rate_per_minute": 1},
    )
    cid = r.get_json()["id"]
    assert wait_until(lambda: counts(api, cid)["delivered"] == 1, timeout=30)
    delivered_to = next(
        p["phone"]
        for p in api("GET", f"/api/v1/campaigns/{cid}/recipients").get_json()["recipients"]
        if p["status"] == "delivered"
    )
    stopper = next(p for p in phones if p != delivered_to)
    sandbox.inbound(delivered_to, "thanks!")
    sandbox.inbound(stopper, "STOP")
    assert wait_until(
        lambda: counts(api, cid)["skipped_opted_out"] == 1 and counts(api, cid)["replies"] == 1, 20
    )
    api("POST", f"/api/v1/campaigns/{cid}/cancel")
    assert [m for m in sandbox.sent_to(stopper) if "Deal" in m["body"]] == []
