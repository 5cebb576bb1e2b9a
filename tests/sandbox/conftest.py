"""Fixtures for the sandbox tests: everything goes over real HTTP, as the service will use it.

One sandbox and one webhook receiver run for the whole session on free ports (werkzeug's
threaded server in a thread); each test starts from a reset sandbox. Tests pick their own
recipient numbers and look only at their own messages' webhooks, so a late webhook of an
earlier test cannot confuse a later one.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask, request
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.serving import BaseWSGIServer, make_server

from app.sandbox import EXTENSION, create_app

API_KEY = "sandbox-test-key"
SECRET = "whsec_" + base64.b64encode(b"sandbox-tests-webhook-secret-32b").decode()
OUR_NUMBER = "+12025550199"
STEP_DELAY = 0.05
TIMEOUT_DELAY = 1.5

_numbers = itertools.count(1000)


def fresh_number() -> str:
    """A valid US number no other test in this session uses (the 555-01xx magic ones avoided)."""
    return f"+1415555{next(_numbers):04d}"


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, every: float = 0.02) -> Any:
    """Poll until predicate() is truthy; returns its last value either way."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(every)
        value = predicate()
    return value


class Server:
    """A WSGI app served on a free port by werkzeug's threaded server, in a daemon thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Received:
    kind: str  # "status" or "inbound": the receiver's URL path
    payload: dict[str, Any]
    headers: dict[str, str]
    verified: bool
    answered: int


class Receiver:
    """Plays the service's webhook endpoints: records every post and checks its signature.

    Like the service, it answers 401 to a bad signature and 204 otherwise, unless told to
    fail the next posts about one number (to see the sandbox retry).
    """

    def __init__(self, secret: str) -> None:
        self.url = ""  # set once it is served
        self._webhook = Webhook(secret)
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._failures: dict[str, int] = {}
        self.app = Flask("webhook_receiver")
        self.app.add_url_rule("/<kind>", "receive", self._receive, methods=["POST"])

    def fail(self, number: str, times: int) -> None:
        """Answer 500 to the next `times` posts whose message is to or from `number`."""
        with self._lock:
            self._failures[number] = times

    def received(self, *, kind: str | None = None, message_id: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r
                for r in self._received
                if (kind is None or r.kind == kind)
                and (message_id is None or r.payload.get("id") == message_id)
            ]

    def accepted(self, message_id: str) -> list[Received]:
        return [r for r in self.received(message_id=message_id) if r.answered == 204]

    def statuses(self, message_id: str) -> list[str]:
        return [r.payload["status"] for r in self.accepted(message_id)]

    def _receive(self, kind: str) -> tuple[str, int]:
        raw = request.get_data(as_text=True)
        try:
            payload = self._webhook.verify(raw, dict(request.headers))
            verified = True
        except WebhookVerificationError:
            payload, verified = request.get_json(silent=True) or {}, False
        answered = 204 if verified else 401
        with self._lock:
            for number in (payload.get("to"), payload.get("from")):
                if self._failures.get(number, 0) > 0:
                    self._failures[number] -= 1
                    answered = 500
            self._received.append(Received(kind, payload, dict(request.headers), verified, answered))
        return "", answered


class Api:
    """The sandbox's API with the account's key, paths relative to /v1/sms."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def send(self, to: str, body: str = "hello", timeout: float = 10, **fields: Any) -> requests.Response:
        """A send from our number; extra keyword arguments are extra fields of the message."""
        payload = {"to": to, "from": OUR_NUMBER, "body": body, **fields}
        return self.post("/messages", json=payload, timeout=timeout)

    def status(self, message_id: str) -> str | None:
        response = self.get(f"/messages/{message_id}")
        return response.json()["status"] if response.status_code == 200 else None


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(SECRET)
    server = Server(receiver.app)
    receiver.url = server.url
    yield receiver
    server.close()


def serve_sandbox(receiver: Receiver, **config: Any) -> Server:
    app = create_app(
        {
            "API_KEY": API_KEY,
            "WEBHOOK_SECRET": SECRET,
            "INBOUND_URL": f"{receiver.url}/inbound",
            "STEP_DELAY": STEP_DELAY,
            "TIMEOUT_DELAY": TIMEOUT_DELAY,
            "CALLBACK_BACKOFF": 0.05,
            **config,
        }
    )
    return Server(app)


def stop_sandbox(server: Server) -> None:
    server.close()
    server.app.extensions[EXTENSION].stop()


@pytest.fixture(scope="session")
def sandbox_server(receiver: Receiver) -> Iterator[Server]:
    server = serve_sandbox(receiver)
    yield server
    stop_sandbox(server)


@pytest.fixture
def api(sandbox_server: Server) -> Api:
    """A client of a freshly reset sandbox."""
    client = Api(f"{sandbox_server.url}/v1/sms", API_KEY)
    assert client.post("/simulate/reset").status_code == 204
    return client


@pytest.fixture
def status_url(receiver: Receiver) -> str:
    return f"{receiver.url}/status"


@pytest.fixture
def number() -> str:
    return fresh_number()
