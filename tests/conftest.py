"""Shared fixtures: a migrated database (SQLite, or PostgreSQL with TEST_DB=postgres), the app,
a live HTTP server for it, the sandbox on real HTTP, and helpers such as post_signed_webhook().

Tests that need data committed across threads and processes (live server, worker, sandbox) use
real commits; every test starts from empty tables (truncated after each test).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.migrate import upgrade

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"test-webhook-secret-0123456789ab").decode()
TELEFONIE_KEY = "test-telefonie-key"
OUR = "+12025550199"


def _database_url(tmp_root: Path) -> str:
    if os.environ.get("TEST_DB") == "postgres":
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            raise pytest.UsageError("TEST_DB=postgres needs TEST_DATABASE_URL")
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{tmp_root / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = _database_url(tmp_path_factory.mktemp("db"))
    upgrade(url)
    return url


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread(threading.Thread):
    def __init__(self, wsgi_app, port: int):
        super().__init__(daemon=True)
        self.server = make_server("127.0.0.1", port, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{port}"

    def run(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def ports() -> dict[str, int]:
    return {"app": free_port(), "sandbox": free_port()}


@pytest.fixture(scope="session")
def app(database_url, ports):
    app = create_app(
        {
            "APP_ENV": "testing",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-0123456789",
            "TELEFONIE_API_KEY": TELEFONIE_KEY,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TELEFONIE_BASE_URL": f"http://127.0.0.1:{ports['sandbox']}/v1/sms",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['app']}",
            "TELEFONIE_READ_TIMEOUT": 1.0,
            "DELIVERY_BACKOFF_BASE": 0.05,
            "DELIVERY_MAX_ATTEMPTS": 5,
            "DELIVERY_IDLE_WAIT": 0.3,
            "WTF_CSRF_ENABLED": True,
            "LOG_FORMAT": "text",
        }
    )
    return app


@pytest.fixture(scope="session")
def live_server(app, ports) -> Iterator[ServerThread]:
    server = ServerThread(app, ports["app"])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_server(ports) -> Iterator[ServerThread]:
    from app.sandbox import create_app as create_sandbox

    sandbox_app = create_sandbox(
        {
            "API_KEY": TELEFONIE_KEY,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "INBOUND_URL": f"http://127.0.0.1:{ports['app']}/webhooks/telefonie/inbound",
            "STEP_DELAY": 0.05,
            "TIMEOUT_DELAY": 2.0,
        }
    )
    server = ServerThread(sandbox_app, ports["sandbox"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server, live_server) -> Iterator[Sandbox]:
    sbx = Sandbox(sandbox_server.url + "/v1/sms")
    sbx.reset()
    yield sbx
    sbx.reset()


class Sandbox:
    """The sandbox over real HTTP."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.http.headers["X-API-Key"] = TELEFONIE_KEY

    def reset(self) -> None:
        self.http.post(self.base + "/simulate/reset", timeout=10).raise_for_status()

    def faults(self, mode: str, count: int = 1) -> None:
        self.http.post(
            self.base + "/simulate/faults", json={"mode": mode, "count": count}, timeout=10
        ).raise_for_status()

    def inbound(self, frm: str, body: str, to: str = OUR, **extra) -> dict:
        r = self.http.post(
            self.base + "/simulate/inbound", json={"from": frm, "to": to, "body": body, **extra}, timeout=10
        )
        r.raise_for_status()
        return r.json()

    def messages(self, **filters) -> list[dict]:
        out, page = [], 1
        while True:
            r = self.http.get(
                self.base + "/messages", params={**filters, "page": page, "page_size": 100}, timeout=10
            )
            r.raise_for_status()
            batch = r.json()["messages"]
            out.extend(batch)
            if len(batch) < 100:
                return out
            page += 1

    def sent_to(self, number: str) -> list[dict]:
        return [m for m in self.messages(to=number) if m["direction"] == "outbound"]


@pytest.fixture(autouse=True)
def clean_tables(request):
    yield
    if "database_url" not in request.fixturenames and "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        for attempt in range(5):  # a late sandbox webhook or a closing browser tab can deadlock a TRUNCATE
            try:
                with db.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                    else:
                        for name in tables:
                            conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608
                break
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
    from app import settings
    from app.consent import service as consent_service
    from app.rules import service as rules_service

    consent_service.invalidate_cache()
    rules_service.invalidate_cache()
    settings.invalidate_cache()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def query(app):
    """query(fn) runs fn() in a fresh app context and returns its result."""

    def run(fn):
        with app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()

    return run


@pytest.fixture
def api_key(app) -> str:
    from app.accounts.service import create_api_key

    with app.app_context():
        _row, key = create_api_key("tests")
        db.session.commit()
        db.session.remove()
    return key


@pytest.fixture
def api(client, api_key) -> Callable:
    def call(method: str, path: str, **kw):
        headers = kw.pop("headers", {})
        headers.setdefault("X-API-Key", api_key)
        return client.open(path, method=method, headers=headers, **kw)

    return call


def sign(body: bytes, msg_id: str, ts: int, secret: str = WEBHOOK_SECRET) -> str:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), body.decode())


def signed_headers(
    body: bytes,
    content_type: str = "application/json",
    ts: int | None = None,
    secret: str = WEBHOOK_SECRET,
    event_id: str | None = None,
) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    event_id = event_id or "evt_" + uuid.uuid4().hex
    return {
        "Content-Type": content_type,
        "webhook-id": event_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(body, event_id, ts, secret),
    }


def inbound_payload(frm: str, body: str, to: str = OUR, pid: str | None = None, **extra) -> dict:
    data = {
        "id": pid or "TF" + uuid.uuid4().hex,
        "direction": "inbound",
        "status": "received",
        "from": frm,
        "to": to,
        "body": body,
        "num_segments": 1,
        "num_media": 0,
    }
    data.update(extra)
    return data


def post_signed_webhook(client, path: str, payload: dict | bytes | str, **header_kw):
    raw = (
        payload
        if isinstance(payload, bytes)
        else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
    )
    return client.post(path, data=raw, headers=signed_headers(raw, **header_kw))


@contextmanager
def record_statements(engine: Engine, autocommit: bool = False) -> Iterator[list]:
    """Yields the list of the SQL statements engine sends while the block runs, also those sent on
    the driver's connection by app.dbutil.first_row_alone; with autocommit, (statement, whether
    its DBAPI connection was in autocommit) pairs. The listeners are removed on exit, whatever
    happens."""
    from app import dbutil

    statements: list = []

    def record(conn, _cursor, statement, *_args):
        if autocommit:
            driver = conn.connection.driver_connection
            statements.append((statement, bool(getattr(driver, "autocommit", False))))
        else:
            statements.append(statement)

    def observe(statement: str, in_autocommit: bool) -> None:  # dbutil.first_row_alone's statements
        statements.append((statement, in_autocommit) if autocommit else statement)

    event.listen(engine, "before_cursor_execute", record)
    dbutil.STATEMENT_OBSERVERS.append(observe)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        dbutil.STATEMENT_OBSERVERS.remove(observe)


def wait_until(fn: Callable, timeout: float = 15.0, every: float = 0.05):
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    return value


@pytest.fixture
def worker(app, sandbox):
    """A delivery worker running in a background thread for the test."""
    from app.delivery.worker import Worker

    w = Worker(app, threads=2)
    thread = threading.Thread(target=w.run_forever, daemon=True)
    thread.start()
    yield w
    w.stop.set()
    thread.join(timeout=10)


@pytest.fixture
def generations(monkeypatch) -> dict[str, int]:
    """The caches' change generations only this test moves. On PostgreSQL the process's listener
    bumps the real ones whenever a NOTIFY arrives (this test's commits, the last test's TRUNCATE),
    at moments no test controls; a bump in the middle of a test would rightly force a reload."""
    from app import cachebus

    own = dict.fromkeys(cachebus.TABLES, 0)
    monkeypatch.setattr(cachebus, "generation", own.__getitem__)
    return own
