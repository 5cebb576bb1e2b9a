"""Push to 200 open tabs on the bench data (100,000 threads): every tab hears a new inbound within
1 s of the webhook, and the idle database load does not grow with the number of tabs.

gunicorn (production config, gthread) serves /admin/events; 200 raw HTTP connections signed in as
one agent hold a stream each (one selector loop reads them all). Then:
- idle: xact_commit of the bench database over IDLE_SECONDS with 0 tabs and with 200 tabs
  (the only difference allowed is none: the tabs wait on in-memory queues, heartbeats are comments);
- push: INBOUNDS signed inbound webhooks, one a second; for each, the time from sending the webhook
  to its `data:` line arriving on every one of the 200 streams.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import socket
import time
import uuid

import requests

from bench import admin_data, servers
from bench.payloads import inbound_payload, signed_headers
from bench.report import Table, median, percentile

TABS = int(os.environ.get("BENCH_SSE_TABS", "200"))
INBOUNDS = 5
IDLE_SECONDS = 6.0
SETTLE_SECONDS = 11.0
TARGET_S = 1.0
THREADS_PER_WORKER = TABS + 32  # each stream holds a gthread thread (README, "Team desk")
EMAIL, PASSWORD = "sse-bench@example.com", "bench-password-123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def prepare(url: str) -> None:
    """An agent to sign in as (the bench data has no users)."""
    from app import create_app
    from app.accounts.service import create_user
    from app.extensions import db

    flask_app = create_app({**servers.service_env(url), "LOG_FORMAT": "text"})
    with flask_app.app_context():
        try:
            create_user(EMAIL, PASSWORD).role = "agent"
            db.session.commit()
        except ValueError:
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def sign_in(base: str) -> str:
    """The session cookie of a signed-in agent (sent by hand: it is `Secure`, and this is plain http)."""
    page = requests.get(base + "/admin/login", timeout=10)
    cookie = "; ".join(f"{c.name}={c.value}" for c in page.cookies)
    answer = requests.post(
        base + "/admin/login",
        timeout=10,
        allow_redirects=False,
        headers={"Cookie": cookie},
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": CSRF.search(page.text).group(1)},
    )
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in answered {answer.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in answer.cookies)


class Tabs:
    """TABS event streams read by one selector loop; arrivals[token] = [seconds, ...]."""

    def __init__(self, host: str, port: int, cookie: str, count: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytes] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.open: set[socket.socket] = set()
        request = (
            f"GET /admin/events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        ).encode()
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(request)
            sock.setblocking(False)
            self.buffers[sock] = b""
            self.selector.register(sock, selectors.EVENT_READ)

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for key, _ in self.selector.select(timeout=min(left, 0.05)):
                sock = key.fileobj
                chunk = sock.recv(65536)
                now = time.monotonic()
                if not chunk:
                    self.selector.unregister(sock)
                    continue
                if b"200 OK" in chunk[:40] or b"retry:" in chunk:
                    self.open.add(sock)
                self.buffers[sock] += chunk
                *lines, self.buffers[sock] = self.buffers[sock].split(b"\n")
                for line in lines:
                    if line.startswith(b"data: "):
                        data = json.loads(line[6:])
                        if data.get("k") == "in":
                            self.arrivals.setdefault(data.get("p") or "", []).append(now)

    def connected(self) -> int:
        return len(self.open & set(self.selector.get_map()[fd].fileobj for fd in self.selector.get_map()))

    def close(self) -> None:
        for sock in list(self.buffers):
            sock.close()


def xact_commits(url: str) -> int:
    with servers.connect(url) as conn:
        conn.autocommit = True
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()[0]


def idle_commits(url: str, pump) -> int:
    """Commits in IDLE_SECONDS, after SETTLE_SECONDS so that the statistics of earlier work (a
    backend may hold them back up to 10 s) are already counted and not charged to the window."""
    pump(SETTLE_SECONDS)
    before = xact_commits(url)
    pump(IDLE_SECONDS)
    return xact_commits(url) - before


def run() -> list[Table]:
    admin_data.DATABASE = os.environ.get("BENCH_ADMIN_DB", admin_data.DATABASE)
    url, load_note = admin_data.ensure()
    prepare(url)
    env = {**servers.service_env(url), "SSE_HEARTBEAT_SECONDS": "15", "SSE_MAX_SECONDS": "300"}
    saved = servers.THREADS
    servers.THREADS = THREADS_PER_WORKER
    try:
        with servers.gunicorn("wsgi:app", env, "sse", "/healthz") as (host, port):
            return measure(url, host, port, load_note)
    finally:
        servers.THREADS = saved


def measure(url: str, host: str, port: int, load_note: str) -> list[Table]:
    base = f"http://{host}:{port}"
    cookie = sign_in(base)
    quiet = idle_commits(url, time.sleep)
    tabs = Tabs(host, port, cookie, TABS)
    tabs.pump(3.0)  # streams open, listener threads start
    streams = tabs.connected()
    busy = idle_commits(url, tabs.pump)
    latencies: list[float] = []
    reached: list[int] = []
    http = requests.Session()
    for i in range(INBOUNDS):
        token = f"sse-bench {uuid.uuid4().hex[:8]}"
        raw = json.dumps(inbound_payload("TF" + uuid.uuid4().hex, f"+1415555{i:04d}", token)).encode()
        sent = time.monotonic()
        answer = http.post(
            base + "/webhooks/telefonie/inbound",
            data=raw,
            timeout=10,
            headers=signed_headers(raw, servers.WEBHOOK_SECRET),
        )
        if answer.status_code >= 300:
            raise RuntimeError(f"webhook answered {answer.status_code}: {answer.text[:200]}")
        tabs.pump(max(0.0, 1.0 - (time.monotonic() - sent)) + 0.5)
        arrived = tabs.arrivals.get(token, [])
        reached.append(len(arrived))
        latencies += [t - sent for t in arrived]
    tabs.close()
    worst = max(latencies) if latencies else float("nan")
    t = Table(
        f"Push to open tabs: {TABS} SSE streams on {admin_data.CONVERSATIONS:,} threads (PostgreSQL "
        f"LISTEN/NOTIFY, gunicorn {servers.WORKERS} workers x {THREADS_PER_WORKER} threads)",
        ["measure", "value", "target"],
    )
    t.add("streams open", f"{streams}/{TABS}", f"{TABS}")
    t.add(f"tabs reached per inbound ({INBOUNDS} inbounds)", ", ".join(map(str, reached)), f"{TABS} each")
    t.add("webhook to tab, p50 ms", f"{median(latencies) * 1000:.0f}", "")
    t.add("webhook to tab, p95 ms", f"{percentile(latencies, 95) * 1000:.0f}", "")
    t.add(
        "webhook to tab, max ms",
        f"{worst * 1000:.0f}",
        f"≤ {TARGET_S * 1000:.0f}: {'meets' if worst <= TARGET_S and min(reached) == TABS else 'MISSES'}",
    )
    t.add(f"idle commits in {IDLE_SECONDS:.0f} s, 0 tabs", str(quiet), "")
    t.add(
        f"idle commits in {IDLE_SECONDS:.0f} s, {TABS} tabs",
        str(busy),
        f"≈ 0 tabs (< {TABS // 20} more): {'meets' if busy - quiet < TABS // 20 else 'MISSES'}",
    )
    t.note(load_note)
    t.note(
        "idle = pg_stat_database.xact_commit delta of the bench database, sampled before and after; "
        "latency = from sending the webhook to the `data:` line on each stream (webhook processing included)"
    )
    return [t]
