"""A database restart under load costs at most the requests in flight: 204 or 503 with
Retry-After, never a 500, and the web and the worker recover by themselves.

The machine's PostgreSQL cluster is shared, so the restart is simulated the way a pool sees it:
every backend of this test database is terminated (pg_terminate_backend), twice, while signed
webhooks keep arriving.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from app.extensions import db
from tests.conftest import inbound_payload, signed_headers, wait_until
from tests.e2e.test_loop import OUR, Stack, api, sent_to

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("TEST_DB") != "postgres", reason="needs PostgreSQL"),
]


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory):
    s = Stack(database_url, tmp_path_factory.mktemp("restart"))
    try:
        s.start_all()
        yield s
    finally:
        s.stop()


def terminate_backends(url: str) -> int:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def test_terminated_backends_cost_only_requests_in_flight(stack, app, database_url):
    stack.api_key = stack.cli("api-keys", "create", "restart").strip().splitlines()[-1]
    answers: list[tuple[float, str, int, str | None]] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        session = requests.Session()
        while not stop.is_set():
            pid = f"TF-restart-{worker}-{uuid.uuid4().hex[:12]}"
            raw = json.dumps(
                inbound_payload(f"+1415555{4000 + worker:04d}", "still there?", pid=pid)
            ).encode()
            try:
                resp = session.post(
                    stack.base + "/webhooks/telefonie/inbound",
                    data=raw,
                    headers=signed_headers(raw),
                    timeout=30,
                )
                answers.append((time.monotonic(), pid, resp.status_code, resp.headers.get("Retry-After")))
            except requests.RequestException as exc:  # a dropped connection would be a failure too
                answers.append((time.monotonic(), pid, -1, str(exc)))

    reads: list[int] = []

    def read() -> None:  # the API and the desk too: 503, never 500
        session = requests.Session()
        while not stop.is_set():
            resp = session.get(
                stack.base + "/api/v1/messages",
                params={"page_size": 1},
                headers={"X-API-Key": stack.api_key},
                timeout=30,
            )
            reads.append(resp.status_code)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        killed = [terminate_backends(database_url)]
        time.sleep(1.0)
        killed.append(terminate_backends(database_url))
        restarted_at = time.monotonic()
        time.sleep(2.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        with app.app_context():
            db.engine.dispose()  # the test process's own pool lost its connections too
    assert all(k > 0 for k in killed)
    codes = {code for _, _, code, _ in answers}
    assert codes <= {204, 503}, [a for a in answers if a[2] not in (204, 503)][:5]
    assert set(reads) <= {200, 503} and reads[-1] == 200, sorted(set(reads))
    print(
        f"webhooks: {len(answers)} answers, {sum(a[2] == 503 for a in answers)} 503; "
        f"reads: {len(reads)}, {reads.count(503)} 503"
    )
    assert all(retry == "5" for _, _, code, retry in answers if code == 503)
    after = [code for at, _, code, _ in answers if at > restarted_at + 1.0]
    assert after and set(after) == {204}, "the web did not recover by itself"
    in_flight = sum(1 for _, _, code, _ in answers if code == 503)
    assert in_flight <= 2 * 4 * 2  # at most the requests in flight, per termination and gunicorn worker
    acked = {pid for _, pid, code, _ in answers if code == 204}
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = {
                r[0]
                for r in conn.execute(
                    text("SELECT provider_id FROM messages WHERE provider_id LIKE 'TF-restart-%'")
                )
            }
    finally:
        engine.dispose()
    assert acked <= stored  # nothing acknowledged is lost
    # the worker recovered by itself too: a message queued now is sent
    resp = api(stack, "POST", "/api/v1/messages", json={"to": "+14155554999", "from": OUR, "body": "back"})
    assert resp.status_code == 201, resp.text
    assert wait_until(lambda: len(sent_to(stack, "+14155554999")) == 1, 30, 0.2), stack.logs()
