"""Outbound drain rate: the delivery worker against the sandbox, on PostgreSQL.

Every scenario queues N messages in one commit (to N/10 recipients) while the workers are
already idle and listening, then times two things: `drain` (every message accepted by the
provider: has a provider id) and `end to end` (every message `delivered`, i.e. the sandbox's
queued/sending/sent/delivered webhooks have all come back through the web app). Scenarios: one
and two worker processes, with and without 10% `timeout` faults (the sandbox records the
message but answers after the client's 1 s read timeout; the worker then reconciles).

The sandbox's own capacity is measured in the same run: a threaded client posting sends
straight to it (callbacks on, to the same web app), so the worker's rate can be read against
what the provider stand-in can take at all. The machine is small and shared: figures move by
tens of percent from run to run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from bench.cpu import postgres_seconds, tree_seconds
from bench.report import Table, busy_elsewhere
from bench.servers import (
    OUT,
    ROOT,
    TELEFONIE_KEY,
    VENV_BIN,
    connect,
    free_port,
    recreate_database,
    service_env,
)

DATABASE = os.environ.get("BENCH_DELIVERY_DB", "bench_delivery")
MESSAGES = int(os.environ.get("BENCH_DELIVERY_MESSAGES", "2000"))
THREADS = int(os.environ.get("BENCH_DELIVERY_THREADS", "8"))
DEADLINE = float(os.environ.get("BENCH_DELIVERY_DEADLINE", "60"))
OUR = "+12025550199"
TARGET = 100.0
CPU_PARTS = ("worker", "sandbox", "web", "postgres")


def run() -> list[Table]:
    url = recreate_database(DATABASE)
    from app.migrate import upgrade

    upgrade(url)
    table = Table(
        f"Delivery: {MESSAGES:,} messages, PostgreSQL, {THREADS} sender threads a worker, callbacks on",
        [
            "scenario",
            "drain msg/s",
            "end to end msg/s",
            "sent once",
            "CPU ms/msg: worker",
            "sandbox",
            "web",
            "postgres",
            "2-core estimate msg/s: drain / end to end",
            "target",
        ],
    )
    with ExitStack() as stack:
        web_port = free_port()
        env = {**service_env(url), "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}"}
        sandbox_url, sandbox_pid = stack.enter_context(sandbox_process(env))
        env.update(
            TELEFONIE_BASE_URL=sandbox_url,
            TELEFONIE_READ_TIMEOUT="1",
            DELIVERY_THREADS=str(THREADS),
            DELIVERY_BACKOFF_BASE="0.2",
            DELIVERY_IDLE_WAIT="0.5",
        )
        web_pid = stack.enter_context(web_process(web_port, env))
        pids = {"sandbox": sandbox_pid, "web": web_pid}
        before = tree_seconds(sandbox_pid)
        capacity = sandbox_capacity(sandbox_url, f"http://127.0.0.1:{web_port}/webhooks/telefonie/status")
        sandbox_ms = (tree_seconds(sandbox_pid) - before) * 1000 / 2000
        table.add(
            "sandbox alone (16 client threads)",
            f"{capacity:.0f}",
            "-",
            "-",
            "-",
            f"{sandbox_ms:.2f}",
            "-",
            "-",
            "-",
            "-",
        )
        for workers in (1, 2):
            for timeouts in (False, True):
                reset_sandbox(sandbox_url)
                name = f"{workers} worker{'s' if workers > 1 else ''}" + (
                    ", 10% timeouts" if timeouts else ""
                )
                drain, e2e, once, cpu = scenario(url, env, sandbox_url, workers, timeouts, pids)
                per = {k: v * 1000 / MESSAGES for k, v in cpu.items()}
                estimate = 2000 / sum(per.values())
                drain_estimate = 2000 / (per["worker"] + per["sandbox"] + per["postgres"])
                table.add(
                    name,
                    f"{drain:.0f}",
                    f"{e2e:.0f}",
                    once,
                    *(f"{per[k]:.2f}" for k in CPU_PARTS),
                    f"{drain_estimate:.0f} / {estimate:.0f}",
                    f"≥ {TARGET:.0f}" if workers == 2 else "-",
                )
                print(table.text().splitlines()[-1], flush=True)
    table.note(
        f"CPU busy with other work just before the run: {busy_elsewhere():.0%} (8 helpers share 2 cores)"
    )
    table.note("drain: all accepted by the provider; end to end: all `delivered` through the status webhooks")
    table.note(
        "CPU ms/msg: CPU time each part used per message (from /proc; not inflated by other people's load);"
        " 2-core estimate: 2,000 ms / their sum, the rate this pipeline could reach with both cores to itself"
        " (drain: without the web app's webhook work; end to end: all four parts)"
    )
    table.note("timeouts: every 10th send is held by the sandbox past the 1 s read timeout, then reconciled")
    return [table]


def scenario(
    url: str, env: dict, sandbox_url: str, workers: int, timeouts: bool, pids: dict[str, int]
) -> tuple[float, float, str, dict[str, float]]:
    truncate(url)
    with ExitStack() as stack:
        worker_pids = [
            stack.enter_context(worker_process(env, f"delivery-worker-{i}")).pid for i in range(workers)
        ]
        time.sleep(1.5)  # connected and listening

        def cpu() -> dict[str, float]:
            return {
                "worker": sum(tree_seconds(p) for p in worker_pids),
                "sandbox": tree_seconds(pids["sandbox"]),
                "web": tree_seconds(pids["web"]),
                "postgres": postgres_seconds(DATABASE),
            }

        cpu_before = cpu()
        fault_thread = None
        stop = threading.Event()
        if timeouts:
            fault_thread = threading.Thread(target=arm_timeouts, args=(sandbox_url, stop), daemon=True)
            fault_thread.start()
        started = queue_messages(url, MESSAGES)
        drained = e2e = None
        with connect(url) as conn:
            while time.monotonic() - started < DEADLINE:
                accepted, delivered = conn.execute(
                    "SELECT count(provider_id), count(*) FILTER (WHERE status = 'delivered') FROM messages"
                ).fetchone()
                conn.rollback()
                now = time.monotonic()
                if drained is None and accepted >= MESSAGES:
                    drained = now - started
                if delivered >= MESSAGES:
                    e2e = now - started
                    break
                time.sleep(0.05)
        stop.set()
        cpu_after = cpu()
    once = sent_once(sandbox_url)
    used = {k: cpu_after[k] - cpu_before[k] for k in CPU_PARTS}
    return (MESSAGES / drained if drained else 0.0, MESSAGES / e2e if e2e else 0.0, once, used)


def arm_timeouts(sandbox_url: str, stop: threading.Event) -> None:
    """Keep one timeout armed per 10 sends: the sandbox's send count tells how many went by."""
    http = requests.Session()
    http.headers["X-API-Key"] = TELEFONIE_KEY
    armed = 0
    while not stop.is_set() and armed < MESSAGES // 10:
        total = http.get(sandbox_url + "/messages", params={"page_size": 1}, timeout=10).json()["total"]
        if total >= armed * 10:
            http.post(sandbox_url + "/simulate/faults", json={"mode": "timeout", "count": 1}, timeout=10)
            armed += 1
        else:
            time.sleep(0.02)


def queue_messages(url: str, count: int) -> float:
    """N messages to N/10 recipients in one commit; returns the monotonic time of the commit."""
    with connect(url) as conn:
        rows = conn.execute(
            "INSERT INTO contacts (phone, opted_out, created_at, updated_at) "
            "SELECT '+1415' || lpad((5550000 + g)::text, 7, '0'), false, now(), now() "
            "FROM generate_series(1, %s) g RETURNING id",
            (max(1, count // 10),),
        ).fetchall()
        conv = conn.execute(
            "INSERT INTO conversations (our_number, contact_id, status, flagged, tags, unread_count, "
            "last_message_at, created_at) SELECT %s, id, 'open', false, '[]', 0, now(), now() FROM contacts "
            "RETURNING id",
            (OUR,),
        ).fetchall()
        assert len(conv) == len(rows)
        conn.execute(
            "INSERT INTO messages (sid, conversation_id, direction, status, from_number, to_number, body, "
            "media_urls, encoding, num_segments, source, date_created, date_updated, attempts, "
            "next_attempt_at, outcome_unknown) "
            "SELECT 'SM' || md5(random()::text || g), c.id, 'outbound', 'queued', %s, ct.phone, "
            "'bench message ' || g, '[]', 'GSM-7', 1, 'api', now(), now(), 0, now(), false "
            "FROM generate_series(1, %s) g JOIN conversations c ON c.id = (g %% %s) + %s "
            "JOIN contacts ct ON ct.id = c.contact_id",
            (OUR, count, len(conv), min(r[0] for r in conv)),
        )
        conn.execute("SELECT pg_notify('outbound_queue', '')")
        conn.commit()
        return time.monotonic()


def truncate(url: str) -> None:
    with connect(url) as conn:
        conn.execute(
            "TRUNCATE messages, receipts, conversations, contacts, delivery_circuit, delivery_retries, "
            "delivery_status_checks RESTART IDENTITY CASCADE"
        )
        conn.commit()


def sent_once(sandbox_url: str) -> str:
    http = requests.Session()
    http.headers["X-API-Key"] = TELEFONIE_KEY
    bodies: list[str] = []
    page = 1
    while True:
        batch = http.get(
            sandbox_url + "/messages", params={"page": page, "page_size": 100}, timeout=30
        ).json()
        bodies += [m["body"] for m in batch["messages"] if m["body"].startswith("bench message")]
        if len(batch["messages"]) < 100:
            break
        page += 1
    return "yes" if len(bodies) == len(set(bodies)) == MESSAGES else f"NO ({len(bodies)} sends)"


def sandbox_capacity(sandbox_url: str, callback: str, count: int = 2000, threads: int = 16) -> float:
    reset_sandbox(sandbox_url)
    local = threading.local()

    def send(i: int) -> int:
        if not hasattr(local, "http"):
            local.http = requests.Session()
            local.http.headers["X-API-Key"] = TELEFONIE_KEY
        body = {
            "to": f"+1415556{i % 1000:04d}",
            "from": OUR,
            "body": f"capacity {i}",
            "status_callback": callback,
        }
        return local.http.post(sandbox_url + "/messages", json=body, timeout=30).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        codes = list(pool.map(send, range(count)))
    elapsed = time.monotonic() - started
    assert codes.count(201) == count, codes[:5]
    time.sleep(2)  # let its callbacks drain before the next scenario
    reset_sandbox(sandbox_url)
    return count / elapsed


def reset_sandbox(sandbox_url: str) -> None:
    requests.post(sandbox_url + "/simulate/reset", headers={"X-API-Key": TELEFONIE_KEY}, timeout=10)


@contextmanager
def sandbox_process(env: dict):
    port = free_port()
    full = {
        **os.environ,
        **env,
        "SANDBOX_PORT": str(port),
        "SANDBOX_STEP_DELAY": "0.05",
        "SANDBOX_TIMEOUT_DELAY": "2",
    }
    with process([sys.executable, "-m", "app.sandbox"], full, "delivery-sandbox") as proc:
        url = f"http://127.0.0.1:{port}/v1/sms"
        wait_http(url + "/openapi.yml")
        yield url, proc.pid


@contextmanager
def web_process(port: int, env: dict):
    """The web app (it takes the status webhooks) under the production gunicorn settings."""
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "-c",
        "gunicorn.conf.py",
        "--workers",
        "2",
        "--threads",
        "8",
        "--max-requests",
        "0",
        "--bind",
        f"127.0.0.1:{port}",
        "wsgi:app",
    ]
    with process(cmd, {**os.environ, **env}, "delivery-web") as proc:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield proc.pid


@contextmanager
def worker_process(env: dict, name: str):
    with process([str(VENV_BIN / "flask"), "--app", "wsgi", "worker"], {**os.environ, **env}, name) as proc:
        yield proc


@contextmanager
def process(cmd: list[str], env: dict, name: str):
    OUT.mkdir(exist_ok=True)
    with open(Path(OUT) / f"{name}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")
