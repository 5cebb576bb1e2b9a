"""metric counters: the messages triggers (PostgreSQL) rewritten as plain inserts of the non-zero deltas

0005's trigger bodies build all five counters as a UNION ALL and aggregate them (GROUP BY ...
HAVING SUM <> 0): 0.15 ms per inserted inbound message, a third of the inbound webhook's whole
statement (0.40 ms). These compute the same deltas in PL/pgSQL and insert only the non-zero ones:
an inbound message is one single-row INSERT (0.03 ms; the statement 0.27 ms). Same counters,
same labels; SQLite keeps 0005's triggers.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 10:00:00
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _others(r: str) -> list[tuple[str, str]]:
    """The counters other than `messages`, for row r (NEW or OLD): (name, amount expression);
    each is 0 for an inbound row."""
    out = f"{r}.direction = 'outbound'"
    return [
        ("queue_depth", f"CASE WHEN {out} AND {r}.status = 'queued' AND {r}.provider_id IS NULL THEN 1 ELSE 0 END"),
        ("send_attempts", f"CASE WHEN {out} THEN COALESCE({r}.attempts, 0) ELSE 0 END"),
        ("send_latency_count", f"CASE WHEN {out} AND {r}.send_latency_ms IS NOT NULL THEN 1 ELSE 0 END"),
        ("send_latency_ms_sum", f"CASE WHEN {out} THEN COALESCE({r}.send_latency_ms, 0) ELSE 0 END"),
    ]


def _insert_others(values: list[tuple[str, str]]) -> str:
    rows = ", ".join(f"('{name}', ({amount})::bigint)" for name, amount in values)
    return (
        "INSERT INTO metric_deltas (name, label, amount) "
        f"SELECT d.n, '', d.v FROM (VALUES {rows}) AS d(n, v) WHERE d.v <> 0;"
    )


def _label(r: str) -> str:
    return f"{r}.direction || ':' || {r}.status"


FUNCTIONS = {
    "insert": f"""
      INSERT INTO metric_deltas (name, label, amount) VALUES ('messages', {_label('NEW')}, 1);
      IF NEW.direction = 'outbound' THEN {_insert_others(_others('NEW'))} END IF;""",
    "delete": f"""
      INSERT INTO metric_deltas (name, label, amount) VALUES ('messages', {_label('OLD')}, -1);
      IF OLD.direction = 'outbound' THEN
        {_insert_others([(n, f'-({a})') for n, a in _others('OLD')])}
      END IF;""",
    "update": f"""
      IF {_label('OLD')} IS DISTINCT FROM {_label('NEW')} THEN
        INSERT INTO metric_deltas (name, label, amount)
        VALUES ('messages', {_label('OLD')}, -1), ('messages', {_label('NEW')}, 1);
      END IF;
      IF OLD.direction = 'outbound' OR NEW.direction = 'outbound' THEN
        {_insert_others([(n, f'({a}) - ({b})') for (n, a), (_, b) in zip(_others('NEW'), _others('OLD'))])}
      END IF;""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, body in FUNCTIONS.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION metric_messages_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body}\n      RETURN NULL;\n    END $$"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    counters = op.get_context().script.get_revision("0005").module
    for name, (_when, rows) in counters.OPS.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION metric_messages_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {counters._deltas(rows)}; RETURN NULL; END $$"
        )
