"""Issue 11 findings 8 and 9: the webhook secret must be real base64 of 24 bytes or more, and the
development settings file is read only when APP_ENV=development."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from app import config, devsetup
from tests.conftest import WEBHOOK_SECRET
from tests.sandbox.conftest import SECRET as SANDBOX_SECRET

ROOT = Path(__file__).resolve().parents[2]


def settings(**overrides: str) -> dict:
    base = {
        "DATABASE_URL": "sqlite://",
        "SECRET_KEY": "x" * 32,
        "TELEFONIE_API_KEY": "k",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "APP_ENV": "production",
    }
    return config.load({**base, **overrides})


def secret_of(n: int) -> str:
    return "whsec_" + base64.b64encode(bytes(range(n))).decode()


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        ("whsec_test", "WEBHOOK_SECRET is too weak: 3 bytes"),
        ("whsec_!!!!", "WEBHOOK_SECRET must be whsec_ followed by valid base64"),
        ("whsec_", "WEBHOOK_SECRET is too weak: 0 bytes"),
        (secret_of(23), "WEBHOOK_SECRET is too weak: 23 bytes"),
        (secret_of(32)[:-1], "valid base64"),  # cut padding
        (secret_of(32) + "\x00", "valid base64"),
        (secret_of(32).replace("A", "\u0410"), "valid base64"),  # a Cyrillic look-alike
        ("whsec_" + "QUJD" * 8 + " ", "valid base64"),
        ("sk_" + "QUJD" * 8, "starting with whsec_"),
    ],
)
def test_a_weak_or_broken_webhook_secret_stops_the_start_with_one_line(secret, says):
    with pytest.raises(SystemExit) as exc:
        config.validate(settings(WEBHOOK_SECRET=secret))
    message = str(exc.value)
    assert message.startswith("error: WEBHOOK_SECRET") and says in message and "\n" not in message


@pytest.mark.parametrize(
    "secret", [secret_of(24), secret_of(32), secret_of(64), WEBHOOK_SECRET, SANDBOX_SECRET]
)
def test_strong_secrets_and_the_tests_own_are_accepted(secret):
    config.validate(settings(WEBHOOK_SECRET=secret))


def test_the_secret_make_run_generates_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "INSTANCE", tmp_path)
    monkeypatch.setattr(config, "DEV_SETTINGS_FILE", tmp_path / "settings.env")
    values = devsetup.ensure_settings()
    config.validate(settings(WEBHOOK_SECRET=values["WEBHOOK_SECRET"]))
    assert values["APP_ENV"] == "development"


def test_the_running_process_refuses_it_too():
    """As gunicorn and flask start it: one line on stderr, exit status not 0, no traceback."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite://", "SECRET_KEY": "x" * 32}
    env |= {"TELEFONIE_API_KEY": "k", "WEBHOOK_SECRET": "whsec_test", "HOME": "/nonexistent"}
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    expected = "error: WEBHOOK_SECRET is too weak: 3 bytes after whsec_, 24 random bytes at least"
    assert done.stderr.strip() == expected


@pytest.fixture
def leftover_dev_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "settings.env"
    path.write_text(
        "APP_ENV=development\nDATABASE_URL=sqlite:///dev.db\nSECRET_KEY=dev-secret-key-0123456789\n"
        f"TELEFONIE_API_KEY=dev\nWEBHOOK_SECRET={secret_of(32)}\nAPI_RATE_LIMIT=5/minute\n"
    )
    monkeypatch.setattr(config, "DEV_SETTINGS_FILE", path)
    return path


def test_a_leftover_development_file_is_ignored_without_app_env(leftover_dev_file):
    cfg = config.load({"DATABASE_URL": "postgresql+psycopg://db/prod", "SECRET_KEY": "p" * 32})
    assert cfg["APP_ENV"] == "production"
    assert cfg["TELEFONIE_API_KEY"] is None and cfg["WEBHOOK_SECRET"] is None
    assert cfg["API_RATE_LIMIT"] != "5/minute"
    with pytest.raises(SystemExit, match="missing required setting TELEFONIE_API_KEY"):
        config.validate(cfg)
    assert config.load({"APP_ENV": "production"})["SECRET_KEY"] is None


def test_the_development_file_is_read_under_app_env_development(leftover_dev_file):
    cfg = config.load({"APP_ENV": "development", "TELEFONIE_API_KEY": "from-env"})
    assert cfg["APP_ENV"] == "development"
    assert cfg["SECRET_KEY"] == "dev-secret-key-0123456789"
    assert cfg["TELEFONIE_API_KEY"] == "from-env"  # the environment still wins
    config.validate(cfg)


def test_flask_commands_read_it_from_another_shell_but_never_as_development(leftover_dev_file):
    """The contract's quick start runs `flask --app wsgi api-keys create NAME` in a second shell
    after `make run`: a command (click's context active) reads the file, in production mode."""
    import click

    with click.Context(click.Command("api-keys")).scope():
        cfg = config.load({})
    assert cfg["DATABASE_URL"] == "sqlite:///dev.db" and cfg["TELEFONIE_API_KEY"] == "dev"
    assert cfg["APP_ENV"] == "production"
    with click.Context(click.Command("worker")).scope():
        assert config.load({"APP_ENV": "production"})["DATABASE_URL"] is None


def test_a_production_app_with_a_leftover_file_is_not_a_development_server(leftover_dev_file, monkeypatch):
    from app import create_app

    for name in ("APP_ENV", "TELEFONIE_API_KEY", "WEBHOOK_SECRET", "SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("SECRET_KEY", "p" * 32)
    monkeypatch.setenv("TELEFONIE_API_KEY", "prod")
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    app = create_app()
    assert app.config["APP_ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSION_LIFETIME", "soon"),
        ("SESSION_LIFETIME", "5"),
        ("SESSION_LIFETIME", "²"),
        ("SESSION_LIFETIME", "9" * 5000),
        ("CSRF_TIME_LIMIT", "-1"),
        ("API_RATE_LIMIT", "x"),
    ],
)
def test_bad_time_and_rate_settings_stop_with_one_line(name, value):
    with pytest.raises(SystemExit) as exc:
        config.validate(settings(**{name: value}))
    assert str(exc.value).startswith(f"error: {name}") and "\n" not in str(exc.value)
