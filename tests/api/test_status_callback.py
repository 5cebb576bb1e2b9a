"""status_callback on POST /api/v1/messages: stored, and each status forwarded to it, signed like
the provider's webhooks, to public addresses only, with retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from app.callbacks import forward_due
from app.callbacks.address import Refused, public_address
from app.callbacks.models import CallbackForward
from app.conversations.models import Message
from app.extensions import db
from tests.conftest import OUR, WEBHOOK_SECRET, post_signed_webhook, wait_until

TO = "+14155550177"


class Receiver:
    """A local HTTP endpoint that records what it receives; answers from `answers`, then 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/status?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self) -> list[dict]:
        return [json.loads(body) for _headers, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def loopback_allowed(app, monkeypatch):
    monkeypatch.setitem(app.config, "CALLBACKS_ALLOW_LOOPBACK", True)


def send_with_callback(api, url: str, provider_id: str = "TFcb1") -> str:
    resp = api("POST", "/api/v1/messages", json={"to": TO, "from": OUR, "body": "hi", "status_callback": url})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()["id"]


def accept(query, sid: str, provider_id: str) -> None:
    """What the worker does when the provider accepts the send."""

    def run():
        db.session.execute(update(Message).where(Message.sid == sid).values(provider_id=provider_id))
        db.session.commit()

    query(run)


def status(client, provider_id: str, value: str, **extra):
    payload = {"id": provider_id, "status": value, "direction": "outbound", "from": OUR, "to": TO, **extra}
    resp = post_signed_webhook(client, "/webhooks/telefonie/status", payload)
    assert resp.status_code == 204, resp.get_data(as_text=True)


def forwards(query) -> list[CallbackForward]:
    return query(lambda: list(db.session.scalars(select(CallbackForward).order_by(CallbackForward.id))))


def run_forwarder(app, until, timeout: float = 15.0):
    def step():
        with app.app_context():
            forward_due(20)
            db.session.remove()
        return until()

    return wait_until(step, timeout=timeout, every=0.1)


def test_status_callback_is_stored_and_each_status_forwarded_signed_in_order(
    app, api, client, query, receiver, loopback_allowed
):
    sid = send_with_callback(api, receiver.url)
    assert (
        query(lambda: db.session.scalar(select(Message.status_callback).where(Message.sid == sid)))
        == receiver.url
    )
    accept(query, sid, "TFcb1")
    status(client, "TFcb1", "sent")
    status(client, "TFcb1", "sent")  # a repeat changes nothing and forwards nothing
    status(client, "TFcb1", "delivered", price="0.0075", price_unit="USD")
    assert [f.status for f in forwards(query)] == ["sent", "delivered"]

    assert run_forwarder(app, lambda: len(receiver.received) == 2)
    verifier = Webhook(WEBHOOK_SECRET)
    for headers, body in receiver.received:
        verifier.verify(body, headers)  # raises when the signature is wrong
        assert headers["content-type"] == "application/json"
    assert [(p["id"], p["status"]) for p in receiver.payloads()] == [(sid, "sent"), (sid, "delivered")]
    assert receiver.payloads()[1]["price"] == "0.0075"
    assert all(f.done and f.delivered_at and f.attempts == 1 for f in forwards(query))


def test_a_failed_forward_is_retried(app, api, client, query, receiver, loopback_allowed):
    receiver.answers = [500, 503]
    sid = send_with_callback(api, receiver.url)
    accept(query, sid, "TFcb2")
    status(client, "TFcb2", "failed", error_code=30008, error_message="Unknown error")
    for expected_attempts in (1, 2):
        assert run_forwarder(app, lambda n=expected_attempts: len(receiver.received) == n)
        wait_until(lambda n=expected_attempts: forwards(query)[0].attempts == n)
        row = forwards(query)[0]
        assert not row.done and row.last_error.startswith("HTTP 50")

        def due_now():
            db.session.execute(update(CallbackForward).values(next_attempt_at=None))
            db.session.commit()

        query(due_now)
    assert run_forwarder(app, lambda: forwards(query)[0].done)
    assert len(receiver.received) == 3 and receiver.payloads()[-1]["error_code"] == 30008
    assert forwards(query)[0].delivered_at is not None


def test_loopback_is_refused_unless_allowed(app, api, client, query, receiver):
    sid = send_with_callback(api, receiver.url)
    accept(query, sid, "TFcb3")
    status(client, "TFcb3", "sent")
    assert run_forwarder(app, lambda: forwards(query)[0].done)
    assert forwards(query)[0].last_error.startswith("refused")
    assert forwards(query)[0].delivered_at is None
    assert receiver.received == []


def test_no_callback_no_forward(api, client, query):
    resp = api("POST", "/api/v1/messages", json={"to": TO, "from": OUR, "body": "hi"})
    accept(query, resp.get_json()["id"], "TFcb4")
    status(client, "TFcb4", "delivered")
    assert forwards(query) == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
        "240.0.0.1",
        "no-such-host.invalid",
    ],
)
def test_non_public_addresses_are_refused(host):
    with pytest.raises(Refused):
        public_address(host, 80)


def test_loopback_opt_in_allows_only_loopback():
    assert public_address("127.0.0.1", 80, allow_loopback=True) == "127.0.0.1"
    for host in ("10.0.0.1", "169.254.169.254", "192.168.0.1"):
        with pytest.raises(Refused):
            public_address(host, 80, allow_loopback=True)
    assert public_address("8.8.8.8", 53) == "8.8.8.8"


def test_the_worker_forwards_statuses_from_the_sandbox(app, api, query, worker, receiver, loopback_allowed):
    """End to end: the API send, the worker, the sandbox's receipts, the forwards to the client."""
    sid = send_with_callback(api, receiver.url)
    assert wait_until(lambda: "delivered" in [p["status"] for p in receiver.payloads()], timeout=30)
    statuses = [p["status"] for p in receiver.payloads()]
    assert statuses[-1] == "delivered" and len(statuses) == len(set(statuses))
    assert all(p["id"] == sid for p in receiver.payloads())
