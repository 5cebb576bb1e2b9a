"""Campaigns: 100,000 recipients accepted through the API (JSON and CSV), dispatch pace with two
worker processes, and a campaign drained through the sandbox with no duplicate and no loss.

Real processes on PostgreSQL (database `bench_campaigns`): gunicorn with ONE worker process (so
"the web process" and its peak RSS, VmHWM from /proc, are one process), `flask worker` x 2 and
the sandbox (`python -m app.sandbox`). Every figure is taken at the sandbox or from /proc.

Knobs (environment), because the whole thing takes long on a small shared machine:
BENCH_CAMPAIGN_RECIPIENTS (100000), BENCH_CAMPAIGN_PACE_SECONDS (60), BENCH_CAMPAIGN_RATE (300 a
minute per sender number; two senders), BENCH_CAMPAIGN_DRAIN (100000: recipients to drain).
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import requests

from bench import report, servers

RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "100000"))
PACE_SECONDS = int(os.environ.get("BENCH_CAMPAIGN_PACE_SECONDS", "60"))
RATE = int(os.environ.get("BENCH_CAMPAIGN_RATE", "300"))
DRAIN = int(os.environ.get("BENCH_CAMPAIGN_DRAIN", "100000"))
SENDERS = ["+12025550199", "+13105550199"]
DB_NAME = "bench_campaigns"
WINDOW = 3.0


def phones(n: int, offset: int = 0) -> list[str]:
    """Valid NANP numbers over several area codes (exchanges 200-999, so phonenumbers accepts them)."""
    areas = ["212", "310", "312", "415", "617", "713", "206", "404"]
    out = []
    for i in range(offset, offset + n):
        area = areas[i % len(areas)]
        rest = i // len(areas)
        out.append(f"+1{area}{200 + rest // 10000:03d}{rest % 10000:04d}")
    return out


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


class Stack:
    """gunicorn (1 worker), the sandbox and delivery workers on one bench database; stopped in close()."""

    def __init__(self) -> None:
        self.url = servers.recreate_database(DB_NAME)
        from app.migrate import upgrade

        upgrade(self.url)
        self.web_port, self.sandbox_port = servers.free_port(), servers.free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}/v1/sms"
        self.env = {
            **os.environ,
            **servers.service_env(self.url),
            "PUBLIC_BASE_URL": self.base,
            "TELEFONIE_BASE_URL": self.sandbox,
            "SANDBOX_PORT": str(self.sandbox_port),
            "SANDBOX_STEP_DELAY": "0.05",
            "PYTHONUNBUFFERED": "1",
        }
        self.procs: list[subprocess.Popen] = []
        servers.OUT.mkdir(exist_ok=True)
        self.web = self.start(
            "web",
            str(servers.VENV_BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "1",
            "--threads",
            "4",
            "--max-requests",
            "0",
            "--timeout",
            "120",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "wsgi:app",
        )
        self.start("sandbox", str(servers.VENV_BIN / "python"), "-m", "app.sandbox")
        self.wait(self.base + "/readyz")
        self.wait(self.sandbox + "/messages", headers={"X-API-Key": servers.TELEFONIE_KEY})
        self.key = self.flask("api-keys", "create", "bench").strip().splitlines()[-1]
        self.http = requests.Session()
        self.http.headers["X-API-Key"] = self.key

    def start(self, name: str, *cmd: str) -> subprocess.Popen:
        log = open(servers.OUT / f"campaigns-{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            cmd, cwd=servers.ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def flask(self, *args: str) -> str:
        return subprocess.run(
            [str(servers.VENV_BIN / "flask"), "--app", "wsgi", *args],
            cwd=servers.ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

    @staticmethod
    def wait(url: str, headers: dict | None = None) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2, headers=headers).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{url} did not come up")

    def sql(self, statement: str) -> None:
        with servers.connect(self.url) as conn:
            conn.execute(statement)

    def sandbox_messages(self) -> list[dict]:
        out, page = [], 1
        with requests.Session() as http:
            http.headers["X-API-Key"] = servers.TELEFONIE_KEY
            while True:
                batch = http.get(
                    self.sandbox + "/messages", params={"page": page, "page_size": 100}, timeout=60
                ).json()["messages"]
                out += [m for m in batch if m["direction"] == "outbound"]
                if len(batch) < 100:
                    return out
                page += 1

    def campaign(self, cid: int) -> dict:
        return self.http.get(f"{self.base}/api/v1/campaigns/{cid}", timeout=60).json()

    def close(self) -> None:
        for proc in self.procs:
            servers._stop(proc)


def accept(stack: Stack, table: report.Table) -> None:
    numbers = phones(RECIPIENTS)
    payload = {
        "name": "bench json",
        "from": SENDERS,
        "body": "Hi {{ name }}, 20% off in {{ fields.city }}",
        "recipients": [
            {"phone": p, "name": f"Friend {i}", "fields": {"city": "Paris"}} for i, p in enumerate(numbers)
        ],
        "send_at": "2099-01-01T00:00:00Z",
    }
    started = time.perf_counter()
    r = stack.http.post(stack.base + "/api/v1/campaigns", json=payload, timeout=300)
    json_s = time.perf_counter() - started
    csv_text = "phone,name,city\n" + "".join(f"{p},Friend {i},Paris\n" for i, p in enumerate(numbers))
    started = time.perf_counter()
    r2 = stack.http.post(
        stack.base + "/api/v1/campaigns",
        timeout=300,
        data={"name": "bench csv", "from": SENDERS, "body": payload["body"], "send_at": payload["send_at"]},
        files={"recipients": ("list.csv", io.BytesIO(csv_text.encode()), "text/csv")},
    )
    csv_s = time.perf_counter() - started
    rss = max(vm_hwm_mb(pid) for pid in worker_pids(stack.web.pid))
    for label, resp, seconds in (("JSON", r, json_s), ("CSV", r2, csv_s)):
        counts = resp.json().get("counts", {}) if resp.status_code == 201 else {}
        table.add(
            f"{RECIPIENTS:,} recipients, {label}",
            resp.status_code,
            f"{seconds:.1f} s",
            report.ratio(seconds, 10, at_least=False),
            f"{counts.get('pending', 0):,} pending",
        )
    table.add(
        "peak RSS of the web process (both requests)",
        "",
        f"{rss:.0f} MB",
        report.ratio(rss, 300, at_least=False),
        "",
    )


def pace(stack: Stack, table: report.Table) -> None:
    """Two workers, two sender numbers at RATE a minute each, for PACE_SECONDS; measured at the sandbox."""
    count = RATE * len(SENDERS) * PACE_SECONDS // 60 + 200
    numbers = phones(count, offset=RECIPIENTS)
    r = stack.http.post(
        stack.base + "/api/v1/campaigns",
        timeout=120,
        json={
            "name": "bench pace",
            "from": SENDERS,
            "body": "Pace",
            "recipients": numbers,
            "rate_per_minute": RATE,
        },
    )
    cid = r.json()["id"]
    workers = [
        stack.start(f"worker{i}", str(servers.VENV_BIN / "flask"), "--app", "wsgi", "worker")
        for i in range(2)
    ]
    time.sleep(PACE_SECONDS + 8)
    stack.http.post(f"{stack.base}/api/v1/campaigns/{cid}/pause", timeout=60)
    sent = [m for m in stack.sandbox_messages() if m["body"] == "Pace"]
    times = sorted(
        (datetime.fromisoformat(m["date_created"].replace("Z", "+00:00")).timestamp(), m["from"])
        for m in sent
    )
    if not times:
        table.add("pace", "no message reached the sandbox", "", "", "")
        return
    t0 = times[0][0] + 5  # skip the workers' start
    for sender in SENDERS:
        stamps = [t for t, f in times if f == sender and t0 <= t < t0 + PACE_SECONDS - 5]
        span = PACE_SECONDS - 5
        per_minute = len(stamps) * 60 / span
        share = RATE * WINDOW / 60
        worst = max(sum(1 for s in stamps if w <= s < w + WINDOW) for w in stamps) if stamps else 0
        table.add(
            f"pace {sender} over {span} s",
            f"{per_minute:.0f}/min",
            f"{(per_minute / RATE - 1) * 100:+.1f}% vs {RATE}",
            report.ratio(abs(per_minute / RATE - 1) * 100, 5, at_least=False) + " % off",
            f"worst 3-s window {worst} vs share {share:.0f} ({worst / share:.2f}x; target ≤ 1.2x)",
        )
    for proc in workers:
        servers._stop(proc)


def drain(stack: Stack, table: report.Table) -> None:
    numbers = phones(DRAIN, offset=RECIPIENTS * 3)
    started = time.perf_counter()
    r = stack.http.post(
        stack.base + "/api/v1/campaigns",
        timeout=300,
        json={
            "name": "bench drain",
            "from": SENDERS,
            "body": "Drain {{ name }}",
            "recipients": [{"phone": p, "name": str(i)} for i, p in enumerate(numbers)],
            "rate_per_minute": 6000,
        },
    )
    cid = r.json()["id"]
    workers = [
        stack.start(f"drain{i}", str(servers.VENV_BIN / "flask"), "--app", "wsgi", "worker") for i in range(2)
    ]
    deadline = time.monotonic() + max(120, DRAIN / 5)
    counts = {}
    while time.monotonic() < deadline:
        counts = stack.campaign(cid)["counts"]
        if counts["pending"] == 0 and counts["queued"] == 0:
            break
        time.sleep(2)
    seconds = time.perf_counter() - started
    got = Counter(m["to"] for m in stack.sandbox_messages() if m["body"].startswith("Drain "))
    dupes = sum(1 for n in got.values() if n > 1)
    lost = sum(1 for p in numbers if p not in got)
    table.add(
        f"{DRAIN:,} recipients drained through the sandbox",
        f"{seconds:.0f} s",
        f"{len(got):,} reached",
        f"duplicates {dupes}, lost {lost}",
        f"delivered {counts.get('delivered')}",
    )
    for proc in workers:
        servers._stop(proc)


def run() -> list[report.Table]:
    table = report.Table(
        "Campaigns: PostgreSQL, gunicorn 1 worker x 4 threads, 2 delivery workers, sandbox",
        ["scenario", "result", "figure", "vs target", "notes"],
    )
    stack = Stack()
    try:
        stack.sql(
            "INSERT INTO settings (key, value) VALUES ('quiet_end', '00:00'), ('quiet_start', '23:59') "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        )
        table.note("quiet hours are opened to 00:00-23:59 for this run (they are tested in tests/campaigns)")
        accept(stack, table)
        if PACE_SECONDS:
            pace(stack, table)
        if DRAIN:
            drain(stack, table)
    finally:
        stack.close()
    table.note(
        f"knobs: recipients {RECIPIENTS}, pace {PACE_SECONDS} s at {RATE}/min per number, drain {DRAIN}"
    )
    write_section(table)
    return [table]


def write_section(table: report.Table) -> None:
    """Replace (or add) the campaigns section of bench/RESULTS.md, leaving the other sections alone."""
    start, end = "<!-- campaigns -->", "<!-- /campaigns -->"
    when = f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    facts = f"- run {when}; CPU busy with other work at the end: {report.busy_elsewhere():.0%}"
    block = f"{start}\n{table.markdown()}\n\n{facts}\n{end}"
    text = report.RESULTS.read_text() if report.RESULTS.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    report.RESULTS.write_text(text)
