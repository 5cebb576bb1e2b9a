"""`make run` preparation: development settings generated once into instance/, the database
migrated, and a demo admin. Values already in the environment always win.

Servers read the settings file only under `APP_ENV=development` (app/config.py), which `make run`
sets; the `flask` commands printed here read it from any shell of this checkout."""

from __future__ import annotations

import base64
import os
import secrets

from app import config

DEMO_EMAIL = "admin@example.com"


def ensure_settings() -> dict[str, str]:
    config.INSTANCE.mkdir(exist_ok=True)
    values = config.read_env_file(config.DEV_SETTINGS_FILE)
    wanted = {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{config.INSTANCE / 'app.db'}",
        "SECRET_KEY": secrets.token_hex(32),
        "TELEFONIE_API_KEY": "tk_" + secrets.token_urlsafe(24),
        "WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    }
    missing = {k: v for k, v in wanted.items() if k not in values}
    if missing:
        with config.DEV_SETTINGS_FILE.open("a") as fh:
            for key, value in missing.items():
                fh.write(f"{key}={value}\n")
        config.DEV_SETTINGS_FILE.chmod(0o600)
        values.update(missing)
    keep_ports(values)
    return values


def keep_ports(values: dict[str, str]) -> None:
    """Write this run's PORT and SANDBOX_PORT into the file (replacing earlier ones), so commands
    run later from another shell (`flask sandbox inbound`, the API URL) find the same ports."""
    ports = {k: os.environ[k].strip() for k in ("PORT", "SANDBOX_PORT") if os.environ.get(k, "").strip()}
    for key, value in ports.items():
        if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
            raise config.ConfigError(f"{key} must be a port number (1-65535), not {value!r}")
    if all(values.get(k) == v for k, v in ports.items()):
        return
    lines = [
        line
        for line in config.DEV_SETTINGS_FILE.read_text().splitlines()
        if line.partition("=")[0].strip() not in ports
    ]
    lines += [f"{key}={value}" for key, value in ports.items()]
    config.DEV_SETTINGS_FILE.write_text("\n".join(lines) + "\n")
    values.update(ports)


def main() -> None:
    os.environ.setdefault("APP_ENV", "development")
    values = ensure_settings()
    from app import create_app
    from app.accounts.service import create_user
    from app.extensions import db
    from app.migrate import upgrade

    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    password = values["DEMO_ADMIN_PASSWORD"]
    with app.app_context():
        try:
            create_user(DEMO_EMAIL, password, "Demo admin")
            db.session.commit()
        except ValueError:
            db.session.rollback()
    base = app.config["PUBLIC_BASE_URL"]
    print("")
    print(f"  Admin:    {base}/admin/   (sign in as {DEMO_EMAIL} / {password})")
    print(f"  API:      {base}/api/v1/")
    print(f"  Sandbox:  {app.config['TELEFONIE_BASE_URL']}")
    example = "--from +14155550123 --to +12025550199 --body HELP"
    print(f"  Text us:  .venv/bin/flask --app wsgi sandbox inbound {example}")
    print("  API key:  KEY=$(.venv/bin/flask --app wsgi api-keys create my-script --unique | tail -1)")
    headers = """-H "X-API-Key: $KEY" -H 'Content-Type: application/json'"""
    data = """-d '{"to": "+14155550123", "from": "+12025550199", "body": "Hello!"}'"""
    print(f"  Send:     curl {headers} {data} {base}/api/v1/messages")
    print(
        f"  Database: {app.config['DATABASE_URL'] if os.environ.get('DATABASE_URL') else 'instance/app.db'}"
    )
    print("")


if __name__ == "__main__":
    main()
