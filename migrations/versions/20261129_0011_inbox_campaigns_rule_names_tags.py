"""inbox without campaign threads, unique rule names, one spelling per tag

Revision ID: 0011
Revises: 0003
Create Date: 2026-11-29 03:00:00

- conversations.campaign_only (+ ix_conversations_inbox on (campaign_only, last_message_at, id)):
  set for threads whose every message is a campaign message, so the inbox's default view skips them
  with a plain index range.
- rules.name_key (+ unique ix_rules_name_key): the case-folded name. Existing duplicates are
  renamed "Name (2)", "Name (3)" so the index can be built.
- tags: the first spelling of each tag, filled from the threads' and rules' tags.
"""

import json
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0004"
branch_labels = None
depends_on = None


def fold(text: str) -> str:
    """The same key as app.conversations.tags.key (kept here so the migration stands alone)."""
    return " ".join(unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).split())


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("campaign_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_conversations_inbox", ["campaign_only", "last_message_at", "id"], unique=False
        )
    op.execute(
        "UPDATE conversations SET campaign_only = true WHERE "
        "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id) AND "
        "NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id "
        "AND m.source <> 'campaign')"
    )

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("key", name=op.f("uq_tags_key")),
    )
    conn = op.get_bind()
    seen: dict[str, str] = {}
    for table in ("conversations", "rules"):
        for (raw,) in conn.execute(sa.text(f"SELECT tags FROM {table} ORDER BY id")):  # noqa: S608
            values = json.loads(raw) if isinstance(raw, str) else (raw or [])
            for tag in values:
                if isinstance(tag, str) and tag.strip():
                    seen.setdefault(fold(tag), " ".join(tag.split())[:50])
    if seen:
        conn.execute(
            sa.text("INSERT INTO tags (key, label) VALUES (:key, :label)"),
            [{"key": k[:200], "label": v} for k, v in seen.items()],
        )

    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), server_default="", nullable=False))
    taken: set[str] = set()
    for rule_id, name in conn.execute(sa.text("SELECT id, name FROM rules ORDER BY id")).all():
        new_name, n = name, 1
        while fold(new_name) in taken:
            n += 1
            new_name = f"{name[:190]} ({n})"
        taken.add(fold(new_name))
        conn.execute(
            sa.text("UPDATE rules SET name = :name, name_key = :key WHERE id = :id"),
            {"name": new_name, "key": fold(new_name), "id": rule_id},
        )
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.alter_column("name_key", server_default=None)
        batch_op.create_index("ix_rules_name_key", ["name_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_index("ix_rules_name_key")
        batch_op.drop_column("name_key")
    op.drop_table("tags")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_inbox")
        batch_op.drop_column("campaign_only")
