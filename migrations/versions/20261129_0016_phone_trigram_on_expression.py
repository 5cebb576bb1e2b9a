"""contacts: the phone trigram index on lower(phone), so equality lookups never plan through it

pg_trgm's GIN opclass also answers `=`, and PostgreSQL costs that far too low: the campaign
dispatcher's `phone IN (200 numbers)` was planned as a trigram bitmap scan even with fresh
statistics, 5.4 s a batch on 13,000 contacts (every NANP number shares most of its trigrams),
and a 100,000-recipient drain crawled at 20 messages a second. An index on an expression that no
equality lookup uses leaves those to the unique btree (1 ms); the searches (`LIKE '%…%'` in the
inbox and the contacts page) query lower(phone), the same text for E.164 numbers.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 10:10:00
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _swap(expression: str) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_contacts_phone_trgm")
        op.execute(f"CREATE INDEX CONCURRENTLY ix_contacts_phone_trgm ON contacts USING gin ({expression} gin_trgm_ops)")


def upgrade() -> None:
    _swap("lower(phone)")


def downgrade() -> None:
    _swap("phone")
