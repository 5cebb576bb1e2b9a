"""Command-line interface: `flask --app wsgi <group> <command>`."""

from __future__ import annotations

import signal
import sys

import click
import requests
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.accounts.service import create_api_key, create_user
from app.campaigns.cli import campaigns as campaigns_cli
from app.extensions import db


def register(app: Flask) -> None:
    app.cli.add_command(api_keys)
    app.cli.add_command(users)
    app.cli.add_command(worker)
    app.cli.add_command(sandbox)
    app.cli.add_command(migrate)
    app.cli.add_command(rules)
    app.cli.add_command(campaigns_cli)


@click.group("api-keys", cls=AppGroup, help="API keys for /api/v1.")
def api_keys() -> None:
    pass


@api_keys.command("create", help="Create a key; it is printed once, alone on the last line.")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(["write", "read"]),
    default="write",
    show_default=True,
    help="read: GET requests only; every other method answers 403.",
)
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="The key stops working after N days.")
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The key stops working at 00:00 UTC on this date (YYYY-MM-DD).",
)
@click.option(
    "--unique",
    is_flag=True,
    help="Add a short random suffix to NAME (my-script-3f9a1c), so the command may be run again.",
)
def api_keys_create(name: str, scope: str, expires_in_days: int | None, expires, unique: bool) -> None:
    from app.accounts.cli_support import expiry

    try:
        expires_at = expiry(expires_in_days, expires)
        row, key = create_api_key(name, scope=scope, expires_at=expires_at, unique=unique)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    until = f", expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else ""
    click.echo(f"Created API key {row.name!r} (scope {scope}{until}). It is shown once; store it now:")
    click.echo(key)


@api_keys.command("list", help="Every key: name, prefix, created, last used, scope, expiry (UTC) and state.")
def api_keys_list() -> None:
    from app.accounts.cli_support import key_table

    click.echo(key_table())


@api_keys.command("revoke", help="Revoke the key(s) named NAME; their requests answer 401 at once.")
@click.argument("name")
def api_keys_revoke(name: str) -> None:
    from app.accounts.service import revoke_api_key

    count = revoke_api_key(name.strip())
    if not count:
        raise click.ClickException(f"no active API key named {name.strip()!r} (see: api-keys list)")
    db.session.commit()
    click.echo(f"Revoked API key {name.strip()!r}" + (f" ({count} keys)" if count > 1 else ""))


@click.group("users", cls=AppGroup, help="Admin users.")
def users() -> None:
    pass


@users.command("create", help="Create a user (an admin unless --role agent) who signs in at /admin/login.")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default=None)
@click.option("--role", type=click.Choice(["admin", "agent"]), default="admin", show_default=True)
@click.option("--if-missing", is_flag=True, help="Succeed quietly when the user exists.")
def users_create(email: str, password: str, name: str | None, role: str, if_missing: bool) -> None:
    try:
        user = create_user(email, password, name)
    except ValueError as exc:
        if if_missing and "exists" in str(exc):
            return
        raise click.ClickException(str(exc)) from exc
    user.role = role
    db.session.commit()
    click.echo(f"Created {role} {email.strip().lower()}")


@click.command("worker", help="Run the delivery worker in the foreground.")
@with_appcontext
@click.option("--threads", type=int, default=None, help="sender threads (default DELIVERY_THREADS, 8)")
def worker(threads: int | None) -> None:
    from app.delivery.worker import Worker

    w = Worker(current_app._get_current_object(), threads=threads)
    signal.signal(signal.SIGTERM, lambda *_: w.stop.set())
    click.echo(f"delivery worker: sending through {current_app.config['TELEFONIE_BASE_URL']}")
    try:
        w.run_forever()
    except KeyboardInterrupt:
        w.stop.set()


@click.group("sandbox", cls=AppGroup, help="Talk to the Telefonie sandbox.")
def sandbox() -> None:
    pass


@sandbox.command("inbound", help="Have the sandbox text us, as a customer would.")
@click.option("--from", "from_", required=True)
@click.option("--to", required=True)
@click.option("--body", required=True)
@click.option("--media-url", multiple=True)
def sandbox_inbound(from_: str, to: str, body: str, media_url: tuple[str, ...]) -> None:
    url = current_app.config["TELEFONIE_BASE_URL"].rstrip("/") + "/simulate/inbound"
    payload = {"from": from_, "to": to, "body": body, "media_url": list(media_url)}
    try:
        resp = requests.post(
            url, json=payload, timeout=10, headers={"X-API-Key": current_app.config["TELEFONIE_API_KEY"]}
        )
    except requests.RequestException as exc:
        raise click.ClickException(f"the sandbox at {url} is not reachable: {exc}") from exc
    if resp.status_code >= 300:
        raise click.ClickException(f"the sandbox answered {resp.status_code}: {resp.text[:300]}")
    click.echo(f"sandbox accepted inbound message {resp.json().get('id')}")


@click.command("migrate", help="Bring the database schema up to date (alembic upgrade head).")
@with_appcontext
def migrate() -> None:
    from app.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"])
    click.echo("database is up to date")


@click.group("rules", cls=AppGroup, help="Auto-reply rules as YAML.")
def rules() -> None:
    pass


@rules.command("export", help="Write every rule to FILE ('-' for standard output).")
@click.argument("file", type=click.File("w", encoding="utf-8"))
def rules_export(file) -> None:
    from app.rules.yaml_io import export_rules

    file.write(export_rules())


@rules.command("import", help="Create or update (by name) the rules in FILE; all or nothing.")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--replace", is_flag=True, help="Delete every existing rule first.")
def rules_import(file, replace: bool) -> None:
    from app.rules.validation import RuleError
    from app.rules.yaml_io import import_rules

    try:
        created, updated = import_rules(file.read(), replace=replace)
    except (RuleError, UnicodeDecodeError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"imported rules: {created} created, {updated} updated")


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
