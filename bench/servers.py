"""PostgreSQL databases and gunicorn processes for the benchmarks, always cleaned up.

Both the service and the baseline app run under the same gunicorn settings: the production
`gunicorn.conf.py` with WORKERS x THREADS gthread workers given on the command line, and
--max-requests 0 so that worker recycling (10,000 requests in production) falls inside no run.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV_BIN = ROOT / ".venv" / "bin"
PG_SERVER = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
# The Procfile's web line as it is (gunicorn.conf.py's workers and threads) unless overridden.
WORKERS = os.environ.get("BENCH_WORKERS")
THREADS = os.environ.get("BENCH_THREADS")
PROTECTED = {"test", "postgres", "template0", "template1"}

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"bench-webhook-secret-0123456789ab").decode()
SECRET_KEY = "bench-secret-key-0123456789abcdef"
TELEFONIE_KEY = "bench-telefonie-key"


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _admin_connection() -> psycopg.Connection:
    return psycopg.connect(_libpq(database_url("postgres")), autocommit=True)


def recreate_database(name: str) -> str:
    """Drop and create a database of our own; never one of the shared ones."""
    if name in PROTECTED:
        raise ValueError(f"refusing to recreate the database {name!r}")
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


def database_exists(name: str) -> bool:
    with _admin_connection() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def postgres_version() -> str:
    with _admin_connection() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        names = ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
        settings = ", ".join(f"{n}={conn.execute(f'SHOW {n}').fetchone()[0]}" for n in names)
    return f"{version} ({settings})"


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(_libpq(url))


def service_env(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "TELEFONIE_API_KEY": TELEFONIE_KEY,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "APP_ENV": "production",
        "LOG_FORMAT": "json",
        "TELEFONIE_BASE_URL": "http://127.0.0.1:9/v1/sms",
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
    }


def gunicorn_settings() -> str:
    sizing = (f"--workers {WORKERS} " if WORKERS else "") + (f"--threads {THREADS} " if THREADS else "")
    return (f"gunicorn -c gunicorn.conf.py {sizing}--max-requests 0 "
            "(no worker recycling inside a run; a fresh server per run)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], name: str, ready_path: str) -> Iterator[tuple[str, int]]:
    """Run `gunicorn app_spec` until the block ends; yields (host, port). Its log is bench/out/NAME.log."""
    OUT.mkdir(exist_ok=True)
    port = free_port()
    sizing = (["--workers", WORKERS] if WORKERS else []) + (["--threads", THREADS] if THREADS else [])
    cmd = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", *sizing, "--max-requests", "0",
           "--bind", f"127.0.0.1:{port}", app_spec]
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with open(OUT / f"{name}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            _wait_ready(proc, f"http://127.0.0.1:{port}{ready_path}", OUT / f"{name}.log")
            yield "127.0.0.1", port
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s; see {log}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the master we started (it stops its workers); SIGKILL its process group if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
