"""Drive a server with wrk (C, not Python: the load generator must not eat the server's CPU).

Requests are signed in Python (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body") and
written to a file that bench/signed.lua loads into a Lua table before the clock starts, so wrk
spends nothing on signing. Timestamps are taken when the file is written, right before the run;
the service accepts them for 300 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import OUT, ROOT

THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
SCRIPT = ROOT / "bench" / "signed.lua"


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    statuses: dict[str, int] = field(default_factory=dict)
    socket_errors: int = 0
    wrapped: int = 0

    def count(self, status: int) -> int:
        return self.statuses.get(str(status), 0)

    @property
    def errors(self) -> int:
        """Answers other than 204 plus socket errors (connect, read, write, timeout)."""
        return sum(n for s, n in self.statuses.items() if s != "204") + self.socket_errors


def sign(secret: str, event_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def write_requests(name: str, secret: str, items: list[tuple[str, dict]]) -> Path:
    """One signed request per (path, payload), in order; returns the file wrk will replay."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.requests"
    now = int(time.time())
    with path.open("w") as out:
        for url_path, payload in items:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            event_id = "msg_" + uuid.uuid4().hex
            out.write(f"{url_path}\t{event_id}\t{now}\t{sign(secret, event_id, now, body)}\t{body}\n")
    return path


def run(host: str, port: int, requests_file: Path, seconds: int = SECONDS) -> WrkResult:
    cmd = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "5s",
           "-s", str(SCRIPT), f"http://{host}:{port}"]
    env = {**os.environ, "BENCH_REQUEST_FILE": str(requests_file), "BENCH_WRK_THREADS": str(THREADS)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {proc.returncode}): "
                           f"{proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(rps=data["requests"] / (data["duration_us"] / 1e6), p50_ms=data["p50_us"] / 1000,
                     p99_ms=data["p99_us"] / 1000, requests=data["requests"], statuses=data["statuses"],
                     socket_errors=data["socket_errors"], wrapped=data["wrapped"])


def combine(runs: list[WrkResult]) -> WrkResult:
    """Several runs as one: requests over the summed durations; p50 and p99 the mean of the runs'
    (wrk gives percentiles per run, not its histogram); statuses and errors summed."""
    statuses: dict[str, int] = {}
    for r in runs:
        for status, n in r.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    seconds = sum(r.requests / r.rps for r in runs if r.rps)
    return WrkResult(rps=sum(r.requests for r in runs) / seconds if seconds else 0.0,
                     p50_ms=sum(r.p50_ms for r in runs) / len(runs),
                     p99_ms=sum(r.p99_ms for r in runs) / len(runs),
                     requests=sum(r.requests for r in runs), statuses=statuses,
                     socket_errors=sum(r.socket_errors for r in runs), wrapped=sum(r.wrapped for r in runs))
