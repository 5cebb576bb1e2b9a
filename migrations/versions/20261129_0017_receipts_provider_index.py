"""receipts: drop ix_receipts_provider_id; the unique (provider_id, status) answers its lookups

Every receipt is one row and each of its indexes one more insert. The single-column index on
provider_id duplicates the leading column of uq_receipts_provider_id_status, which serves
`WHERE provider_id = …` (pending receipts, the receipt storm's look-ups) just as well.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 21:20:00
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts") as batch_op:
        batch_op.drop_index("ix_receipts_provider_id")


def downgrade() -> None:
    with op.batch_alter_table("receipts") as batch_op:
        batch_op.create_index("ix_receipts_provider_id", ["provider_id"], unique=False)
