"""gunicorn with gunicorn.conf.py, as the Procfile runs it. Issue 12 finding 10: without the control
socket every gunicorn of a user shares (~/.gunicorn/gunicorn.ctl), so two checkouts do not
interfere. Issue 8: every worker fills its caches before its first request. The server is killed
whatever happens."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.conftest import TELEFONIE_KEY, WEBHOOK_SECRET, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@contextmanager
def running_gunicorn(
    home: Path, database_url: str, workers: int, log_path: Path, **extra_env: str
) -> Iterator[int]:
    """gunicorn with gunicorn.conf.py in production, HOME at home, its output in log_path; yields
    the port it binds. Its whole session is killed on exit, whatever happens."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # where gunicorn 25+ puts its control socket by default
        "DATABASE_URL": database_url,
        "SECRET_KEY": "gunicorn-test-secret-key-0123",
        "TELEFONIE_API_KEY": TELEFONIE_KEY,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "APP_ENV": "production",
        **extra_env,
    }
    with log_path.open("wb") as log:
        cmd = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        proc = subprocess.Popen(
            [*cmd, "--workers", str(workers), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield port
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass


def test_gunicorn_makes_no_shared_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    log_path = tmp_path / "gunicorn.log"
    with running_gunicorn(home, f"sqlite:///{tmp_path / 'app.db'}", 1, log_path) as port:

        def up() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(up, timeout=60, every=0.2), log_path.read_text()
        assert not (home / ".gunicorn").exists(), list((home / ".gunicorn").iterdir())
        assert "control" not in log_path.read_text().lower(), log_path.read_text()


def test_every_worker_fills_its_caches_before_its_first_request(tmp_path):
    """post_worker_init (gunicorn.conf.py) runs app/warm.py in each worker: the rule index is
    built once there, not by every thread of a cold worker at once (issue 8)."""
    from app import create_app, migrate
    from app.extensions import db
    from app.rules.crud import create_rule

    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    handlers = logging.getLogger("app").handlers[:]  # create_app sets the "app" logger up again
    try:
        made = create_app({"APP_ENV": "testing", "TESTING": True, "DATABASE_URL": url,
                           "SECRET_KEY": "gunicorn-test-secret-key-0123", "TELEFONIE_API_KEY": TELEFONIE_KEY,
                           "WEBHOOK_SECRET": WEBHOOK_SECRET, "LOG_FORMAT": "text"})
    finally:
        logging.getLogger("app").handlers[:] = handlers
    with made.app_context():
        for word in ("HOURS", "PRICE", "JOIN"):
            create_rule({"name": word.title(), "match": "first_word", "patterns": [word], "reply": "ok"})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    log_path = tmp_path / "gunicorn.log"

    def warmed() -> int:
        return log_path.read_text().count("caches warm in")

    with running_gunicorn(tmp_path, url, 2, log_path, LOG_FORMAT="text") as port:
        assert wait_until(lambda: warmed() == 2, timeout=60, every=0.2), log_path.read_text()
        text = log_path.read_text()
        assert text.count(": 3 rules (3 replies compiled), change listener off") == 2, text
        assert "caches not warmed" not in text, text
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
