"""The outbound engine with real processes (gunicorn, `flask worker` processes, the sandbox) on
free ports: provider and database outages, a long queue to one number, identical messages
reconciled by two workers. Timings are scaled by settings; the provider outage keeps the
issue's two minutes unless OUTBOUND_OUTAGE_SECONDS says otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.conftest import TELEFONIE_KEY, wait_until
from tests.e2e.test_loop import OUR, Stack

pytestmark = pytest.mark.e2e
OUTAGE = float(os.environ.get("OUTBOUND_OUTAGE_SECONDS", "120"))
DB_OUTAGE = float(os.environ.get("OUTBOUND_DB_OUTAGE_SECONDS", "30"))
FAST_RECOVERY = {
    "DELIVERY_CIRCUIT_MAX_COOLDOWN": "3",
    "DELIVERY_BACKOFF_MAX": "5",
    "DELIVERY_LEASE_SECONDS": "60",  # a test that waited out a lease would show it
}


@pytest.fixture
def make_stack(database_url, tmp_path, app):
    stacks: list[Stack] = []

    def start(workers: int = 1, **env: str) -> Stack:
        stack = Stack(database_url, tmp_path)
        stack.env.update(FAST_RECOVERY, **env)
        stack.start_all()
        for i in range(1, workers):
            stack.start(f"worker{i}", str(stack_bin() / "flask"), "--app", "wsgi", "worker")
        stack.api_key = stack.cli("api-keys", "create", f"outbound-{len(stacks)}").strip().splitlines()[-1]
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()
    with app.app_context():
        db.engine.dispose()  # its connections may have been ended by a database outage


def stack_bin():
    from pathlib import Path

    return Path(sys.executable).parent


def post(stack: Stack, body: str, to: str) -> str:
    """POST /api/v1/messages, retried while the service answers 5xx (a database coming back)."""
    for _ in range(50):
        resp = requests.post(
            stack.base + "/api/v1/messages",
            json={"to": to, "from": OUR, "body": body},
            headers={"X-API-Key": stack.api_key},
            timeout=30,
        )
        if resp.status_code == 201:
            return resp.json()["id"]
        assert resp.status_code >= 500, resp.text
        time.sleep(0.5)
    raise AssertionError(f"could not queue {body!r}")


def queue_many(stack: Stack, count: int, to: str, body=lambda i: f"message {i}") -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: post(stack, body(i), to), range(count)))


def count(stack: Stack, **params: str) -> int:
    resp = requests.get(
        stack.base + "/api/v1/messages",
        params={**params, "page_size": 1},
        headers={"X-API-Key": stack.api_key},
        timeout=30,
    )
    return resp.json()["total"] if resp.ok else -1


def provider_records(stack: Stack, to: str) -> list[dict]:
    out, page = [], 1
    while True:
        resp = requests.get(
            stack.sandbox + "/messages",
            params={"to": to, "direction": "outbound", "page": page, "page_size": 100},
            headers={"X-API-Key": TELEFONIE_KEY},
            timeout=30,
        )
        batch = resp.json()["messages"]
        out += batch
        if len(batch) < 100:
            return out
        page += 1


def arm(stack: Stack, mode: str, n: int) -> None:
    requests.post(
        stack.sandbox + "/simulate/faults",
        json={"mode": mode, "count": n},
        headers={"X-API-Key": TELEFONIE_KEY},
    ).raise_for_status()


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(15)


def test_provider_outage_with_500_queued_delivers_each_exactly_once(make_stack):
    stack = make_stack(workers=2)
    to = "+14155550190"
    stop(stack.procs["sandbox"])
    down_since = time.monotonic()
    queue_many(stack, 500, to)
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_since)))
    assert count(stack, to=to, status="failed") == 0, "a message failed during the outage"
    assert all(p.poll() is None for name, p in stack.procs.items() if name.startswith("worker"))
    stack.start("sandbox", sys.executable, "-m", "app.sandbox")
    assert wait_until(lambda: count(stack, to=to, status="delivered") == 500, 120, 1), stack.logs()
    bodies = sorted(m["body"] for m in provider_records(stack, to))
    assert bodies == sorted(f"message {i}" for i in range(500))


def _admin(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(
        parsed.set(drivername="postgresql", database="postgres").render_as_string(False), autocommit=True
    )


def test_database_outage_under_a_running_worker(make_stack, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a database outage is staged on PostgreSQL")
    name = make_url(database_url).database
    # The suite's own database (CI's is `test`; the fixture drops its schema anyway), never a
    # server's system databases.
    assert name not in ("postgres", "template0", "template1"), "never stage an outage on a system database"
    stack = make_stack(workers=1)
    to = "+14155550191"
    before = post(stack, "before the outage", to)
    assert wait_until(lambda: count(stack, to=to, status="delivered") == 1, 30, 0.2)
    with _admin(database_url) as admin:
        try:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            deadline = time.monotonic() + DB_OUTAGE
            while time.monotonic() < deadline:  # sessions that slip in are ended too
                time.sleep(1)
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
                )
            worker = stack.procs["worker"]
            assert worker.poll() is None, "the worker died during the outage:\n" + stack.logs()
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    after = post(stack, "after the outage", to)
    assert wait_until(lambda: count(stack, to=to, status="delivered") == 2, 60, 0.5), stack.logs()
    assert stack.procs["worker"].poll() is None
    assert sorted(m["body"] for m in provider_records(stack, to)) == ["after the outage", "before the outage"]
    assert before != after
    log = (stack.tmp / "worker.log").read_text()
    assert "retrying in" in log and "database reachable again" in log


def test_1500_messages_to_one_number_with_a_timeout_on_the_first(make_stack):
    """The timed-out first send is reconciled only after many newer sends to the same number
    (a long backoff): it is still found, so the provider gets exactly 1,500 messages."""
    stack = make_stack(workers=2, DELIVERY_BACKOFF_BASE="15")
    to = "+14155550192"
    stop(stack.procs["worker"])
    stop(stack.procs["worker1"])
    arm(stack, "timeout", 1)
    queue_many(stack, 1500, to)
    for name in ("worker", "worker1"):
        stack.start(name, str(stack_bin() / "flask"), "--app", "wsgi", "worker")
    assert wait_until(lambda: count(stack, to=to, status="delivered") == 1500, 240, 1), stack.logs()
    records = provider_records(stack, to)
    assert len(records) == 1500
    assert sorted(m["body"] for m in records) == sorted(f"message {i}" for i in range(1500))


def test_identical_messages_with_timeouts_and_two_workers_wait_no_lease(make_stack):
    """12 identical messages to one number, the first 12 sends time out: both workers
    reconcile onto the same provider records, and a conflict is retried at once, so every
    message is out long before the 60 s lease would end."""
    stack = make_stack(workers=2)
    to = "+14155550193"
    arm(stack, "timeout", 12)
    started = time.monotonic()
    queue_many(stack, 12, to, body=lambda i: "Your code is 123456")
    assert wait_until(lambda: count(stack, to=to, status="delivered") == 12, 40, 0.2), stack.logs()
    assert time.monotonic() - started < 40
    assert len(provider_records(stack, to)) == 12
