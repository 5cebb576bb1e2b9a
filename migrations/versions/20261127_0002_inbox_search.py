"""inbox search: trigram indexes on messages.body, contacts.name and contacts.phone (PostgreSQL only)

The admin/API inbox search is a substring match (ILIKE '%word%'); a pg_trgm GIN index lets
PostgreSQL find the matching rows without reading every message. SQLite gets nothing (it has no
such index; its search stays a scan). The models do not declare these indexes: migrations/env.py
leaves them out of autogenerate (`alembic check`) by name, see PG_ONLY_INDEXES there.

The indexes are built CONCURRENTLY (outside the migration's transaction) so that the release
phase does not block inbound webhooks while messages is indexed; a build interrupted halfway
leaves an INVALID index, which the next run drops and builds again. Downgrade drops the indexes
and keeps the pg_trgm extension (harmless, and other objects may use it).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:00:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (index name, table, column): keep in step with PG_ONLY_INDEXES in migrations/env.py
TRIGRAM_INDEXES = (
    ("ix_messages_body_trgm", "messages", "body"),
    ("ix_contacts_name_trgm", "contacts", "name"),
    ("ix_contacts_phone_trgm", "contacts", "phone"),
)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"CREATE INDEX CONCURRENTLY {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        for name, _table, _column in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
