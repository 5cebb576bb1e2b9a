"""Migrations are the schema's only source: one head, models match (alembic check), and upgrade
then downgrade then upgrade runs on an empty database."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from app.migrate import alembic_config, downgrade, upgrade


@pytest.fixture
def empty_url(tmp_path):
    if os.environ.get("TEST_DB") == "postgres":
        base = os.environ["TEST_DATABASE_URL"]
        # Named after the test database, so suites sharing one server do not drop each other's.
        name = base.rsplit("/", 1)[1].split("?")[0] + "_migrations_check"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        yield base.rsplit("/", 1)[0] + "/" + name
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"


def test_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_models_match_migrations(empty_url):
    upgrade(empty_url)
    command.check(alembic_config(empty_url))  # raises when autogenerate would find a difference


def test_upgrade_downgrade_upgrade(empty_url):
    upgrade(empty_url)
    downgrade(empty_url, "base")
    engine = create_engine(empty_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(empty_url)
    engine = create_engine(empty_url)
    assert {"messages", "conversations", "contacts", "receipts", "rules"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
