"""status_callback forwarding and metric counters kept by triggers

Revision ID: 0005
Revises: 0003

- messages.status_callback: the URL a client gave with POST /api/v1/messages.
- callback_forwards: one row per status change of such a message, written by a trigger in the
  transaction that changes the status (whatever code path does it).
- metric_deltas / metric_totals: /metrics reads counters instead of aggregating the messages
  table. Triggers append one small delta row per change (appends never contend, unlike one hot
  counter row per status); each scrape folds the deltas into the totals.

On SQLite, a later migration that rebuilds `messages` (batch mode: a new table, the rows copied,
the old one dropped) loses these triggers: 0012 creates them again with this file's code, and
such a migration must be followed by one that does the same.
"""
from alembic import op
import sqlalchemy as sa
import app.types

revision = '0005'
down_revision = "0011"
branch_labels = None
depends_on = None

# (metric name, label expression, amount expression) for one row R (OLD or NEW) of messages.
COUNTERS = [
    ("messages", "R.direction || ':' || R.status", "1"),
    ("queue_depth", "''",
     "CASE WHEN R.direction = 'outbound' AND R.status = 'queued' AND R.provider_id IS NULL THEN 1 ELSE 0 END"),
    ("send_attempts", "''", "CASE WHEN R.direction = 'outbound' THEN COALESCE(R.attempts, 0) ELSE 0 END"),
    ("send_latency_count", "''",
     "CASE WHEN R.direction = 'outbound' AND R.send_latency_ms IS NOT NULL THEN 1 ELSE 0 END"),
    ("send_latency_ms_sum", "''",
     "CASE WHEN R.direction = 'outbound' THEN COALESCE(R.send_latency_ms, 0) ELSE 0 END"),
]
WATCHED = "status, direction, provider_id, attempts, send_latency_ms"


def _deltas(rows: list[tuple[str, str]]) -> str:
    """INSERT the net change: +1 for NEW's values, -1 for OLD's, nothing when they cancel."""
    parts = []
    for row, sign in rows:
        for name, label, amount in COUNTERS:
            parts.append(
                f"SELECT '{name}' AS name, {label.replace('R.', row + '.')} AS label, "
                f"{sign}({amount.replace('R.', row + '.')}) AS amount"
            )
    union = " UNION ALL ".join(parts)
    return (
        "INSERT INTO metric_deltas (name, label, amount) SELECT name, label, SUM(amount) "
        f"FROM ({union}) AS d GROUP BY name, label HAVING SUM(amount) <> 0"
    )


OPS = {
    "insert": ("AFTER INSERT", [("NEW", "")]),
    "update": (f"AFTER UPDATE OF {WATCHED}", [("OLD", "-"), ("NEW", "")]),
    "delete": ("AFTER DELETE", [("OLD", "-")]),
}
FORWARD = (
    "INSERT INTO callback_forwards (message_id, status, url, done, attempts, created_at) "
    "VALUES (NEW.id, NEW.status, NEW.status_callback, false, 0, {now})"
)


SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        for op_name, (when, rows) in OPS.items():
            op.execute(
                f"CREATE FUNCTION metric_messages_{op_name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {_deltas(rows)}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER metric_messages_{op_name} {when} ON messages "
                f"FOR EACH ROW EXECUTE FUNCTION metric_messages_{op_name}()"
            )
        op.execute(
            "CREATE FUNCTION callback_forward() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {FORWARD.format(now='now()')}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER callback_forward AFTER UPDATE OF status ON messages FOR EACH ROW "
            "WHEN (NEW.status_callback IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status) "
            "EXECUTE FUNCTION callback_forward()"
        )
    else:
        for op_name, (when, rows) in OPS.items():
            op.execute(
                f"CREATE TRIGGER metric_messages_{op_name} {when} ON messages FOR EACH ROW "
                f"BEGIN {_deltas(rows)}; END"
            )
        op.execute(
            "CREATE TRIGGER callback_forward AFTER UPDATE OF status ON messages FOR EACH ROW "
            "WHEN NEW.status_callback IS NOT NULL AND OLD.status IS NOT NEW.status "
            f"BEGIN {FORWARD.format(now=SQLITE_NOW)}; END"
        )


def _count_existing() -> None:
    """Counters start from what is already there (metric_totals and metric_deltas empty)."""
    for name, label, amount in COUNTERS:
        label, amount = label.replace("R.", "m."), amount.replace("R.", "m.")
        grouped = label != "''"
        op.execute(
            "INSERT INTO metric_totals (name, label, value) "
            f"SELECT '{name}', {label}, COALESCE(SUM({amount}), 0) FROM messages m"
            + (f" GROUP BY {label}" if grouped else "")
        )


def _drop_triggers(dialect: str) -> None:
    names = [f"metric_messages_{name}" for name in OPS] + ["callback_forward"]
    for name in names:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON messages")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_callback', sa.String(length=2000), nullable=True))

    op.create_table('callback_forwards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', app.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', app.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', app.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_callback_forwards_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_forwards'))
    )
    with op.batch_alter_table('callback_forwards', schema=None) as batch_op:
        batch_op.create_index('ix_callback_forwards_due', ['done', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_forwards_message_id'), ['message_id'], unique=False)

    op.create_table('metric_deltas',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_deltas'))
    )
    op.create_table('metric_totals',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'label', name=op.f('pk_metric_totals'))
    )
    _count_existing()
    _create_triggers(dialect)


def downgrade() -> None:
    _drop_triggers(op.get_bind().dialect.name)
    op.drop_table('metric_totals')
    op.drop_table('metric_deltas')
    with op.batch_alter_table('callback_forwards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_forwards_message_id'))
        batch_op.drop_index('ix_callback_forwards_due')
    op.drop_table('callback_forwards')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('status_callback')
