"""messages triggers again on SQLite: metric counters and status_callback forwards

SQLite cannot alter a table in place beyond adding a column: batch mode builds a new `messages`,
copies the rows and drops the old table, and the old table's triggers go with it. 0007 did that
(messages.campaign_id with its foreign key) after 0005 had created the triggers, so on SQLite the
metric counters stopped following messages and status callbacks were no longer forwarded. This
creates them again with 0005's own definitions (they need no new column: campaign_id is neither
counted nor forwarded) and recounts the totals, which missed every change made without them.
PostgreSQL alters tables in place and kept its triggers: nothing to do there.

Revision ID: 0012
Revises: 0009
Create Date: 2026-11-29 04:40:00
"""

from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def _triggers_migration():
    """Migration 0005's module (trigger definitions and the initial count), as Alembic loaded it."""
    return op.get_context().script.get_revision("0005").module


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    triggers = _triggers_migration()
    triggers._drop_triggers("sqlite")
    op.execute("DELETE FROM metric_deltas")
    op.execute("DELETE FROM metric_totals")
    triggers._count_existing()
    triggers._create_triggers("sqlite")


def downgrade() -> None:
    # The triggers belong to 0005 (whose downgrade drops them) and are right for 0009 too.
    pass
