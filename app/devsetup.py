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
    return values


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
    print(f"  API:      {base}/api/v1/  (create a key: .venv/bin/flask --app wsgi api-keys create NAME)")
    print(f"  Sandbox:  {app.config['TELEFONIE_BASE_URL']}")
    example = "--from +14155550123 --to +12025550199 --body HELP"
    print(f"  Text us:  .venv/bin/flask --app wsgi sandbox inbound {example}")
    print(
        f"  Database: {app.config['DATABASE_URL'] if os.environ.get('DATABASE_URL') else 'instance/app.db'}"
    )
    print("")


if __name__ == "__main__":
    main()
