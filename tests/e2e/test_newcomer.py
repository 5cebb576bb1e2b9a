"""A newcomer's first minutes, literally: the README's quick start on non-default ports.

How it runs (kept fast): the checkout's files are copied to a temporary directory without .venv,
instance/ or .git, and the copy's `.venv` is a symlink to the virtualenv running this test, so
`make run` finds its requirements installed and starts at once (nothing is downloaded). HOME points
at a temporary directory, so nothing the processes write under ~ (gunicorn's control socket) meets
another checkout's. Then, as the README says:

1. `PORT=<free> SANDBOX_PORT=<free> make run` in the copy, waiting for its banner and the web app;
2. from "another shell" (an environment without PORT/SANDBOX_PORT): every command `make run`
   printed (text us, create a key with KEY=$(...), send with curl) exactly as printed, then the
   README's own block with only the URL's port changed; each must do what it says (the inbound
   HELP and the API message are delivered by the worker through the sandbox);
3. Ctrl-C (SIGINT to make's process group) must stop everything.

Whatever happens, a `finally` stops every process left whose working directory is the copy (by
pid, after the polite SIGINT). `make test` itself is not run here: this test is part of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
import requests

from app import config
from app.devsetup import ensure_settings
from tests.conftest import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
SKIP_DIRS = (".venv", ".git", "instance", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules")
OVERRIDES = (  # settings a developer's shell might carry; the newcomer has none of them
    "DATABASE_URL", "SECRET_KEY", "TELEFONIE_BASE_URL", "TELEFONIE_API_KEY", "WEBHOOK_SECRET",
    "PUBLIC_BASE_URL", "APP_ENV", "LOG_FORMAT", "PORT", "SANDBOX_PORT", "MAKEFLAGS", "MFLAGS",
    "MAKELEVEL", "VIRTUAL_ENV", "SANDBOX_ACCESS_LOG",
)  # fmt: skip


def quick_start_commands(readme: str) -> list[str]:
    """The README's commands for "another shell": the code block after the quick start's `make run`."""
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 2 and "make run" in blocks[0], blocks
    return [line.strip() for line in blocks[1].replace("\\\n", " ").splitlines() if line.strip()]


def printed_commands(banner: str) -> dict[str, str]:
    found = dict(re.findall(r"^\s*(Text us|API key|Send):\s+(.+)$", banner, re.M))
    assert set(found) == {"Text us", "API key", "Send"}, banner
    return found


def processes_in(directory: Path) -> list[int]:
    """Pids whose working directory is inside `directory`: what this test started, nothing else."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == directory or directory in cwd.parents:
            pids.append(int(entry.name))
    return pids


def stop_all(directory: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_in(directory)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if not wait_until(lambda: not processes_in(directory), 10, 0.2):
            continue
        return


def shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def reachable(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


@pytest.fixture
def checkout(tmp_path) -> Path:
    copy = tmp_path / "sms"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*SKIP_DIRS), symlinks=True)
    (copy / ".venv").symlink_to(VENV, target_is_directory=True)
    (tmp_path / "home").mkdir()
    return copy


@pytest.mark.e2e
@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(not (VENV / "bin" / "honcho").exists(), reason="the virtualenv has no honcho")
def test_readme_quick_start_on_other_ports(checkout: Path) -> None:
    web_port, sandbox_port = free_port(), free_port()
    base = {
        k: v for k, v in os.environ.items() if k not in OVERRIDES and not k.startswith(("PYTEST", "TEST_"))
    }
    base["HOME"] = str(checkout.parent / "home")
    run_env = {**base, "PORT": str(web_port), "SANDBOX_PORT": str(sandbox_port)}
    log_path = checkout.parent / "make-run.log"
    web = f"http://127.0.0.1:{web_port}"
    with log_path.open("wb") as log:
        make = subprocess.Popen(
            ["make", "run"],
            cwd=checkout,
            env=run_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ready = wait_until(
            lambda: (
                "Send:" in log_path.read_text(errors="replace")
                and reachable(web + "/healthz")
                and reachable(f"http://127.0.0.1:{sandbox_port}/v1/sms/openapi.yml")
            ),
            120,
            0.3,
        )
        banner = log_path.read_text(errors="replace")
        assert ready, banner[-3000:]
        assert f"{web}/admin/" in banner and f"127.0.0.1:{sandbox_port}/v1/sms" in banner
        settings = (checkout / "instance" / "settings.env").read_text()
        assert f"PORT={web_port}\n" in settings and f"SANDBOX_PORT={sandbox_port}\n" in settings

        # Another shell: no PORT, no SANDBOX_PORT; the commands exactly as make run printed them.
        printed = printed_commands(banner)
        done = shell(
            "\n".join([printed["Text us"], printed["API key"], printed["Send"], 'echo; echo "KEY=$KEY"']),
            checkout,
            base,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "sandbox accepted inbound message" in done.stdout, done.stdout + done.stderr
        key = re.search(r"^KEY=(\S+)$", done.stdout, re.M).group(1)
        sent = json.loads(re.search(r"^\{.*\}$", done.stdout, re.M).group(0))
        assert sent["status"] == "queued" and sent["to"] == "+14155550123", done.stdout

        # The README's block, with only the URL's port changed.
        readme = quick_start_commands((checkout / "README.md").read_text())
        assert any(c.startswith("KEY=$(.venv/bin/flask --app wsgi api-keys create") for c in readme), readme
        script = "\n".join(c.replace("127.0.0.1:5000", f"127.0.0.1:{web_port}") for c in readme)
        again = shell(script + '\necho; echo "KEY=$KEY"', checkout, base)
        assert again.returncode == 0, again.stdout + again.stderr
        assert (
            "sandbox accepted inbound message" in again.stdout
            and '"status": "queued"' in again.stdout.replace('"status":"queued"', '"status": "queued"')
        ), again.stdout

        # Each command did what it says: the API message and the HELP answer reach the sandbox.
        headers = {"X-API-Key": key}
        delivered = wait_until(
            lambda: (
                requests.get(f"{web}/api/v1/messages/{sent['id']}", headers=headers, timeout=5)
                .json()
                .get("status")
                == "delivered"
            ),
            60,
            0.5,
        )
        assert delivered, requests.get(f"{web}/api/v1/messages/{sent['id']}", headers=headers, timeout=5).text
        help_replies = wait_until(
            lambda: [
                m
                for m in requests.get(
                    f"{web}/api/v1/messages", params={"to": "+14155550123"}, headers=headers, timeout=5
                ).json()["messages"]
                if m["direction"] == "outbound" and "STOP" in m["body"]
            ],
            60,
            0.5,
        )
        assert help_replies, "the HELP text us command got no HELP reply"
        assert requests.get(f"{web}/admin/login", timeout=5).status_code == 200

        # Ctrl-C stops all of it.
        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=30)
        assert wait_until(lambda: not processes_in(checkout), 20, 0.2), processes_in(checkout)
        assert not reachable(web + "/healthz")
    finally:
        try:
            os.killpg(make.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        wait_until(lambda: make.poll() is not None, 10, 0.2)
        stop_all(checkout)
        if make.poll() is None:
            make.kill()
            make.wait(timeout=10)


def test_make_run_keeps_the_ports(tmp_path, monkeypatch):
    """devsetup writes this run's PORT and SANDBOX_PORT (replacing older ones) into settings.env, so a
    later `flask` command in a shell without them uses the same ports."""
    monkeypatch.setattr(config, "INSTANCE", tmp_path)
    monkeypatch.setattr(config, "DEV_SETTINGS_FILE", tmp_path / "settings.env")
    monkeypatch.setenv("PORT", "6300")
    monkeypatch.setenv("SANDBOX_PORT", "6301")
    first = ensure_settings()
    assert first["PORT"] == "6300" and first["SANDBOX_PORT"] == "6301"
    secret = first["SECRET_KEY"]
    monkeypatch.setenv("PORT", "6400")
    ensure_settings()
    text = (tmp_path / "settings.env").read_text()
    assert text.count("PORT=") == 2 and "\nPORT=6400\n" in text and "SANDBOX_PORT=6301\n" in text
    assert f"SECRET_KEY={secret}\n" in text  # generated values are kept
    with click.Context(click.Command("sandbox")).scope():  # a `flask` command from another shell
        later = config.load({})  # nothing in the environment
    assert later["TELEFONIE_BASE_URL"] == "http://127.0.0.1:6301/v1/sms"
    assert later["PUBLIC_BASE_URL"] == "http://127.0.0.1:6400"
    for bad in ("abc", "0", "65536", "80; rm -rf /", "６３００"):
        monkeypatch.setenv("PORT", bad)
        with pytest.raises(SystemExit, match="PORT must be a port number"):
            ensure_settings()
