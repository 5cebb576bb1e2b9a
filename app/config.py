"""Settings from the environment, validated at start.

Under `make run` a file `instance/settings.env` (written once by `app.devsetup`) supplies
development defaults; the real environment always wins. A leftover file must never turn a
server into a development server, so `APP_ENV` comes from the environment only, and the file is
read when the environment says `APP_ENV=development` (as `make run` does), or when `APP_ENV` is
unset in a command-line command (`flask --app wsgi api-keys create …` from another shell, as the
contract's quick start does). The web server, with `APP_ENV` unset, never reads it. Outside
development every required setting must come from the environment, and a missing or invalid one
stops the process with one line.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
DEV_SETTINGS_FILE = INSTANCE / "settings.env"

REQUIRED = ("DATABASE_URL", "SECRET_KEY", "TELEFONIE_API_KEY", "WEBHOOK_SECRET")
WEBHOOK_SECRET_MIN_BYTES = 24


class ConfigError(SystemExit):
    """A missing or invalid setting: exits with one clear line."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def load(environ: dict[str, str] | None = None) -> dict:
    """Environment first, then the development file, then built-in defaults."""
    env = dict(os.environ if environ is None else environ)
    file_values = read_env_file(DEV_SETTINGS_FILE) if reads_dev_file(env) else {}
    file_values.pop("APP_ENV", None)
    merged = {**file_values, **{k: v for k, v in env.items() if v != ""}}

    port = merged.get("PORT", "5000")
    sandbox_port = merged.get("SANDBOX_PORT", "5001")
    cfg = {
        "DATABASE_URL": merged.get("DATABASE_URL"),
        "SECRET_KEY": merged.get("SECRET_KEY"),
        "TELEFONIE_API_KEY": merged.get("TELEFONIE_API_KEY"),
        "WEBHOOK_SECRET": merged.get("WEBHOOK_SECRET"),
        "TELEFONIE_BASE_URL": merged.get("TELEFONIE_BASE_URL", f"http://127.0.0.1:{sandbox_port}/v1/sms"),
        "PUBLIC_BASE_URL": merged.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}").rstrip("/"),
        "TELEFONIE_CONNECT_TIMEOUT": float(merged.get("TELEFONIE_CONNECT_TIMEOUT", "3.05")),
        "TELEFONIE_READ_TIMEOUT": float(merged.get("TELEFONIE_READ_TIMEOUT", "10")),
        "DELIVERY_MAX_ATTEMPTS": int(merged.get("DELIVERY_MAX_ATTEMPTS", "6")),
        "DELIVERY_BACKOFF_BASE": float(merged.get("DELIVERY_BACKOFF_BASE", "1.0")),
        "DELIVERY_LEASE_SECONDS": float(merged.get("DELIVERY_LEASE_SECONDS", "60")),
        "DELIVERY_IDLE_WAIT": float(merged.get("DELIVERY_IDLE_WAIT", "5")),
        "DELIVERY_THREADS": int(merged.get("DELIVERY_THREADS", "8")),
        "DELIVERY_VALIDITY_SECONDS": float(merged.get("DELIVERY_VALIDITY_SECONDS", "14400")),
        "DELIVERY_BACKOFF_MAX": float(merged.get("DELIVERY_BACKOFF_MAX", "300")),
        "DELIVERY_CIRCUIT_THRESHOLD": int(merged.get("DELIVERY_CIRCUIT_THRESHOLD", "5")),
        "DELIVERY_CIRCUIT_COOLDOWN": float(merged.get("DELIVERY_CIRCUIT_COOLDOWN", "1")),
        "DELIVERY_CIRCUIT_MAX_COOLDOWN": float(merged.get("DELIVERY_CIRCUIT_MAX_COOLDOWN", "30")),
        "DELIVERY_STATUS_CHECK_AFTER": float(merged.get("DELIVERY_STATUS_CHECK_AFTER", "900")),
        "DELIVERY_STATUS_SWEEP_EVERY": float(merged.get("DELIVERY_STATUS_SWEEP_EVERY", "30")),
        "PROXY_COUNT": int(merged.get("PROXY_COUNT", "0")),
        "API_RATE_LIMIT": merged.get("API_RATE_LIMIT", "6000/minute"),
        "SESSION_LIFETIME": _seconds(merged, "SESSION_LIFETIME", 12 * 3600),
        "PERMANENT_SESSION_LIFETIME": _seconds(merged, "SESSION_LIFETIME", 12 * 3600),
        # The server-side session ends at a fixed time (accounts/sessions.py), so re-sending the
        # cookie on every response extends nothing; it would let a poll that started before a
        # form's redirect write back the older cookie and drop that form's flash message.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": _seconds(merged, "CSRF_TIME_LIMIT", 8 * 3600),
        "APP_ENV": merged.get("APP_ENV", "production"),
        "LOG_FORMAT": merged.get(
            "LOG_FORMAT", "json" if merged.get("APP_ENV", "production") == "production" else "text"
        ),
    }
    return cfg


def reads_dev_file(env: dict[str, str]) -> bool:
    if env.get("APP_ENV"):
        return env["APP_ENV"] == "development"
    return in_command_line()


def in_command_line() -> bool:
    """True while a `flask` command loads the app (click's context is active); gunicorn and
    other WSGI servers import wsgi.py outside any."""
    import click

    return click.get_current_context(silent=True) is not None


def _seconds(values: dict[str, str], name: str, default: int) -> int:
    raw = values.get(name, str(default)).strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 60 <= int(raw) <= 90 * 86400:
        raise ConfigError(f"{name} must be a number of seconds between 60 and 7776000, not {raw!r}")
    return int(raw)


def webhook_secret_problem(secret: str) -> str | None:
    """Why a Standard Webhooks secret is unusable, or None. The key is the base64 after
    `whsec_`; it must decode strictly and give at least 24 random bytes."""
    if not secret.startswith("whsec_"):
        return "WEBHOOK_SECRET must be a Standard Webhooks secret starting with whsec_"
    try:
        key = base64.b64decode(secret[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        return "WEBHOOK_SECRET must be whsec_ followed by valid base64"
    if len(key) < WEBHOOK_SECRET_MIN_BYTES:
        return (
            f"WEBHOOK_SECRET is too weak: {len(key)} bytes after whsec_, "
            f"{WEBHOOK_SECRET_MIN_BYTES} random bytes at least"
        )
    return None


def validate(cfg: dict) -> None:
    for name in REQUIRED:
        if not cfg.get(name):
            raise ConfigError(f"missing required setting {name} (set it in the environment)")
    problem = webhook_secret_problem(cfg["WEBHOOK_SECRET"])
    if problem:
        raise ConfigError(problem)
    from app.accounts.ratelimit import parse

    try:
        parse(cfg.get("API_RATE_LIMIT"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if len(cfg["SECRET_KEY"]) < 16 and cfg["APP_ENV"] == "production":
        raise ConfigError("SECRET_KEY is too short (16 characters at least)")
