"""delivery engine: shared circuit breaker, retry counts by cause, status checks

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-29 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import app.types

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_circuit",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("cooldown", sa.Float(), nullable=False),
        sa.Column("opened_at", app.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retry_at", app.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("probe_until", app.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("updated_at", app.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_delivery_circuit")),
    )
    op.create_table(
        "delivery_retries",
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", app.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("cause", name=op.f("pk_delivery_retries")),
    )
    op.create_table(
        "delivery_status_checks",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", app.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_delivery_status_checks_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_delivery_status_checks")),
    )


def downgrade() -> None:
    op.drop_table("delivery_status_checks")
    op.drop_table("delivery_retries")
    op.drop_table("delivery_circuit")
