"""Small database helpers that differ by dialect."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from weakref import WeakKeyDictionary

import psycopg
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import TextClause

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


# Called with (statement, True) before a statement runs on the alone path below, which SQLAlchemy's
# cursor events do not see; tests record statements through it (tests/conftest.py).
STATEMENT_OBSERVERS: list[Callable[[str, bool], None]] = []
_DRIVER_SQL: WeakKeyDictionary = WeakKeyDictionary()
NOT_RUN = object()


def first_row_alone(statement: TextClause, params: dict):
    """PostgreSQL: run one statement that is the whole write of a request on its own, committing
    by itself, and return its first row (None when it returned none); NOT_RUN when the caller
    must take the session path instead (the session has begun a transaction, or this try failed).

    The statement runs on a pooled connection's psycopg connection in autocommit, not through
    the session and SQLAlchemy's execute: the same statement on the same pool, about 0.2 ms less
    Python per webhook (a fifth of a receipt's, measured in-process, bench/RESULTS.md). Anything
    that goes wrong here (a connection the database closed, bad data) answers NOT_RUN after
    dropping the connection if it broke: in autocommit a failed statement wrote nothing, and the
    session path runs it again and reports the failure as SQLAlchemy would (it also invalidates
    the pool after a restart, and the webhook retries once: app/webhooks)."""
    if db.session.registry.has() and db.session().in_transaction():  # (has(): no session made for this)
        return NOT_RUN
    sql = _DRIVER_SQL.get(statement)
    if sql is None:
        sql = _DRIVER_SQL[statement] = statement.compile(dialect=db.engine.dialect).string
    pooled = db.engine.raw_connection()  # a pool timeout raises here: 503 like any other
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        for observe in STATEMENT_OBSERVERS:
            observe(sql, True)
        return driver.execute(sql, params, prepare=True).fetchone()
    except Exception as exc:  # noqa: BLE001  (the session path reports it)
        if driver.closed or isinstance(exc, psycopg.OperationalError):
            pooled.invalidate(exc)
        return NOT_RUN
    finally:
        if not driver.closed:
            driver.autocommit = False
        pooled.close()


def dialect() -> str:
    return db.engine.dialect.name  # the one engine the session is bound to; asking it makes no session


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


def notify_committed(channel: str, payload: str = "") -> None:
    """NOTIFY for a write that has committed already (first_row_alone's): handed to this
    process's publisher at once (PostgreSQL only)."""
    from app.publish import send_soon

    send_soon(db.engine, channel, payload)
