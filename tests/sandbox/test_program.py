"""`python -m app.sandbox` as `make run` starts it, and the settings it reads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from app.sandbox import config_from_env
from tests.sandbox.conftest import SECRET, wait_until

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_settings_follow_the_environment(tmp_path: Path) -> None:
    env = {"TELEFONIE_API_KEY": "k", "WEBHOOK_SECRET": SECRET, "PORT": "5600", "SANDBOX_TIMEOUT_DELAY": "3"}
    settings = config_from_env(env, dev_file=tmp_path / "absent.env")
    assert (settings["API_KEY"], settings["WEBHOOK_SECRET"]) == ("k", SECRET)
    assert settings["INBOUND_URL"] == "http://127.0.0.1:5600/webhooks/telefonie/inbound"
    assert (settings["STEP_DELAY"], settings["TIMEOUT_DELAY"]) == (0.3, 3.0)

    public = config_from_env({**env, "PUBLIC_BASE_URL": "https://sms.example.com/"}, dev_file=tmp_path / "x")
    assert public["INBOUND_URL"] == "https://sms.example.com/webhooks/telefonie/inbound"
    explicit = config_from_env({**env, "SANDBOX_INBOUND_URL": "http://h/in"}, dev_file=tmp_path / "x")
    assert explicit["INBOUND_URL"] == "http://h/in"


def test_settings_come_from_the_dev_file_then_are_generated(tmp_path: Path) -> None:
    dev_file = tmp_path / "settings.env"
    dev_file.write_text(f"TELEFONIE_API_KEY=from-file\nWEBHOOK_SECRET={SECRET}\n")
    assert config_from_env({}, dev_file=dev_file)["API_KEY"] == "from-file"
    assert config_from_env({"TELEFONIE_API_KEY": "from-env"}, dev_file=dev_file)["API_KEY"] == "from-env"

    generated = config_from_env({}, dev_file=tmp_path / "absent.env")
    assert generated["API_KEY"] and generated["WEBHOOK_SECRET"].startswith("whsec_")


def test_runs_as_a_program_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """The flake (issue 9): the program listens before it serves (create_app, then bind, then the
    serve loop), so on a busy machine the probe's first request could sit in the backlog past its
    1 s read timeout; that ReadTimeout escaped the probe (it caught only ConnectionError), the
    `finally` sent Ctrl-C to a process still starting and gave it a fixed 10 s to exit, and the
    TimeoutExpired left the process running. Now any failed probe means "not yet", the deadlines
    are generous, output goes to a file (never a full pipe), and the process is killed whatever
    happens."""
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_PORT": str(port),
        "TELEFONIE_API_KEY": "program-key",
        "WEBHOOK_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "sandbox.log"
    with log_path.open("wb") as log:  # a file, not a pipe: the child can never block on output
        process = subprocess.Popen(
            [sys.executable, "-m", "app.sandbox"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}/v1/sms"

    def answers() -> int | None:
        try:
            response = requests.get(base + "/messages", headers={"X-API-Key": "program-key"}, timeout=5)
            return response.status_code
        except requests.RequestException:  # refused, reset or slow: not up yet
            return None

    try:
        assert wait_until(answers, timeout=60, every=0.1) == 200, log_path.read_text()
        assert requests.get(base + "/messages", timeout=30).status_code == 401
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert f"http://127.0.0.1:{port}/v1/sms" in log_path.read_text()
