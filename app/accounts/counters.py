"""Atomic windowed counters in the database, shared by every process and machine.

One `INSERT … ON CONFLICT DO UPDATE … RETURNING` both counts and reads, so concurrent requests
each see their own number (no check-then-write race), on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite

from app.dbutil import dialect
from app.extensions import db


def _insert(table):
    return (postgresql if dialect() == "postgresql" else sqlite).insert(table)


def increment(model, keys: dict, counter_column: str) -> int:
    """Add one to the row for `keys` (created at 1) and return the new count."""
    table = model.__table__
    counter = table.c[counter_column]
    stmt = (
        _insert(table)
        .values(**keys, **{counter_column: 1})
        .on_conflict_do_update(index_elements=list(keys), set_={counter_column: counter + 1})
        .returning(counter)
    )
    return int(db.session.execute(stmt).scalar_one())


def increment_in_window(
    model, keys: dict, window_column: str, counter_column: str, now: int, window: int
) -> tuple[int, int]:
    """Add one to the row for `keys` in a fixed window that starts at the first count; a row
    whose window has passed starts over at 1 in the same statement. Returns (count, start)."""
    table = model.__table__
    start = table.c[window_column]
    counter = table.c[counter_column]
    stale = start <= now - window
    stmt = (
        _insert(table)
        .values(**keys, **{window_column: now, counter_column: 1})
        .on_conflict_do_update(
            index_elements=list(keys),
            set_={
                counter_column: case((stale, 1), else_=counter + 1),
                window_column: case((stale, now), else_=start),
            },
        )
        .returning(counter, start)
    )
    row = db.session.execute(stmt).one()
    return int(row[0]), int(row[1])
