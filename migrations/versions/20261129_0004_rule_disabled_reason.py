"""rules.disabled_reason: why the service disabled a rule (its reply hit a render limit)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 03:05:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_reason', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_column('disabled_reason')
