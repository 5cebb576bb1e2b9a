"""Small database helpers that differ by dialect."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db

# A session's connection procured with these options runs each statement as its own transaction:
# for a webhook whose whole write is one statement (no BEGIN and COMMIT round trips). The pool
# resets the connection's isolation level when it is returned.
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def session_connection(alone: bool):
    """(the session's connection, whether it is in autocommit). Autocommit only when `alone` (the
    caller's one statement is the whole write) and the session has begun nothing yet: a
    connection's isolation level is set when the session procures it, and a request that has
    already read (a cache reload) keeps its transaction."""
    alone = alone and not db.session().in_transaction()
    return (db.session.connection(execution_options=AUTOCOMMIT) if alone else db.session.connection()), alone


def dialect() -> str:
    return db.session.get_bind().dialect.name


def insert_ignore(table, index_elements: list[str]):
    """INSERT ... ON CONFLICT (index_elements) DO NOTHING, for PostgreSQL and SQLite."""
    module = postgresql if dialect() == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=index_elements)


def lock_key(name: str) -> None:
    """Serialise transactions about one key (a provider id) until commit; SQLite serialises writers anyway."""
    if dialect() == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(name.encode())})


def notify(channel: str, payload: str = "") -> None:
    """Wake listeners once the transaction commits (PostgreSQL only; SQLite listeners poll).
    Sent after the commit from another connection (app/publish.py), never inside the transaction:
    a NOTIFY inside it would serialise this commit with every other one that notifies."""
    from app.publish import after_commit

    after_commit(db.session(), channel, payload)
