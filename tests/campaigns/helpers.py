"""Numbers inside the quiet-hours window right now, and delivery workers as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from app.campaigns.quiet_hours import allowed
from app.types import utcnow
from tests.conftest import TELEFONIE_KEY, WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Number stems (the last two digits vary) in one zone each; together their 08:00-21:00 windows
# cover every hour of the day. Each makes valid numbers of its own zone (tests/campaigns/
# test_helpers.py): the US stems once had a digit too few, so from 16:00 to 02:00 UTC, when New
# York came first, every campaign test got numbers a campaign rightly set aside as invalid.
STEMS = [
    "+121255501",  # New York (555-01xx: the numbers set aside for fiction, and valid)
    "+131055501",  # Los Angeles
    "+180855501",  # Honolulu
    "+4420712345",  # London
    "+9198123456",  # India
    "+813123456",  # Tokyo
    "+612987654",  # Sydney
]


def numbers_inside_the_window(count: int, minutes: int = 10) -> list[str]:
    """`count` (≤ 100) numbers of one zone that is inside the window for the next `minutes`."""
    now = utcnow()
    for stem in STEMS:
        numbers = [f"{stem}{n:02d}" for n in range(100)]
        probe = numbers[0]
        if all(allowed(probe, now + timedelta(minutes=m)) for m in range(0, minutes + 1)):
            return numbers[:count]
    raise AssertionError(f"no candidate zone is inside the window at {now}")


class Workers:
    """`flask --app wsgi worker` processes against the test database, the live server and the sandbox."""

    def __init__(self, database_url: str, app_url: str, sandbox_url: str, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TEST_"))},
            "DATABASE_URL": database_url,
            "SECRET_KEY": "worker-secret-key-0123456789",
            "TELEFONIE_API_KEY": TELEFONIE_KEY,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PUBLIC_BASE_URL": app_url,
            "TELEFONIE_BASE_URL": sandbox_url,
            "TELEFONIE_READ_TIMEOUT": "2",
            "DELIVERY_BACKOFF_BASE": "0.1",
            "DELIVERY_LEASE_SECONDS": "3",
            "DELIVERY_IDLE_WAIT": "0.3",
            "APP_ENV": "development",
            "LOG_FORMAT": "text",
        }
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = open(self.tmp / f"worker{len(self.procs)}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.tmp.glob("worker*.log"))
        )


def worker_processes(database_url, live_server, sandbox_server, tmp_path) -> Iterator[Workers]:
    workers = Workers(database_url, live_server.url, sandbox_server.url + "/v1/sms", tmp_path)
    try:
        yield workers
    finally:
        workers.stop()
