"""desk_events triggers stay quiet in a transaction that publishes its own events after commit

A NOTIFY inside a transaction makes its commit wait for one database-wide lock, held until the
commit is flushed: every webhook's commit then ran one at a time (app/publish.py has the figures).
The webhook statements set `app.desk_quiet` for their transaction and publish the desk's events
after commit from another connection; every other writer (the desk, the API, the worker,
campaigns, plain SQL) is still heard through these triggers as before.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 09:20:00
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

QUIET = "BEGIN\n      IF current_setting('app.desk_quiet', true) = 'on' THEN RETURN NULL; END IF;"


def _functions() -> list[str]:
    """Migration 0010's CREATE OR REPLACE FUNCTION statements, as Alembic loaded that module."""
    desk = op.get_context().script.get_revision("0010").module
    return [s for s in desk.PG_NOTIFY if "CREATE OR REPLACE FUNCTION" in s]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _functions():
        assert statement.count("BEGIN") == 1, "0010's function bodies changed: update 0013"
        op.execute(statement.replace("BEGIN", QUIET, 1))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _functions():
        op.execute(statement)
