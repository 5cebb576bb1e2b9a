"""NOTIFY after commit, from a separate connection, in batches (PostgreSQL).

Why not `pg_notify()` inside the transaction that changed the data: PostgreSQL serialises every
committing transaction that has queued a notification behind one database-wide lock, held until
its commit record is flushed to disk (async.c, PreCommit_Notify). On the webhook hot path that
lock turned the whole service into one commit at a time: pgbench on this machine, 16 clients,
INSERT + commit 2,400 tps; INSERT + pg_notify + commit 400 tps. A transaction that only
notifies writes no WAL of its own, so it does not wait for a flush and holds that lock for
microseconds.

So `after_commit(channel, payload)` remembers the notification on the session; when the session
commits, the notifications are handed to this process's publisher thread, which sends everything
waiting in one autocommit statement on its own connection (a burst of webhooks becomes one
NOTIFY round trip). A rollback drops them, as PostgreSQL would. The listeners (delivery workers,
the desk's SSE hub, app/cachebus.py) are unchanged: a notification is a hint to look again, they
all also look on a timer or resync on reconnect, so a notification lost with a crashed process
delays a wake-up, it never loses data.

SQLite has no NOTIFY; there `after_commit` does nothing (its listeners poll).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque

import psycopg
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

KEY = "after_commit_notify"
DESK_CHANNEL = "desk_events"  # the desk's push (app/admin/live.py; triggers of migrations 0010, 0013)
BATCH = 500
# After a wake-up the publisher waits this long before sending, so that a burst's notifications go
# out as one statement: at 800 webhooks a second, sending each commit's NOTIFY on its own cost
# ~0.35 ms of CPU per webhook (a round trip and a GIL hand-over per commit). 5 ms gathered about
# two per statement at a worker's ~350 webhooks a second and still cost ~0.18 ms of a webhook's
# ~1.5 ms of Python; 20 ms gathers about seven and costs ~0.05 ms (measured in-process, serial,
# bench/RESULTS.md). A listener hears of a change at most this much later (the desk's push, a
# worker's wake-up for an auto-reply: both have budgets of 100 ms or more).
LINGER = 0.02
# Except a delivery worker's wake-up: a queued reply is on its way to a customer (an auto-reply's
# budget is 100 ms from the webhook), so a batch holding one goes out at once, with whatever
# else is waiting. The desk's events, the bulk of the traffic, keep the linger.
HURRY_CHANNELS = frozenset({"outbound_queue"})  # app.conversations.service.QUEUE_CHANNEL
SEND = (
    "SELECT pg_notify(n.c, n.p) FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS n(c, p, i) "
    "ORDER BY n.i"
)


def after_commit(session: Session, channel: str, payload: str = "") -> None:
    """Send NOTIFY `channel`, `payload` once the session's transaction commits (PostgreSQL only)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    session.connection()  # tie it to a begun transaction, so its commit or rollback decides
    pending = session.info.setdefault(KEY, {})
    pending.setdefault(_dsn(bind), []).append((channel, payload))


def send_soon(bind, channel: str, payload: str = "") -> None:
    """Send NOTIFY `channel`, `payload` for a change that has committed already (PostgreSQL)."""
    if bind.dialect.name == "postgresql":
        publisher(_dsn(bind)).put([(channel, payload)])


def _dsn(bind) -> str:
    engine = bind.engine
    dsn = _DSNS.get(engine)
    if dsn is None:  # rendered once per engine: this runs on every webhook
        dsn = _DSNS[engine] = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return dsn


_DSNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(KEY, None)
    if pending:
        for dsn, items in pending.items():
            publisher(dsn).put(items)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    # any rollback() drops what was waiting (also one with no database transaction begun yet, which
    # fires no after_rollback); a savepoint's rollback drops it all too: a missed hint costs a
    # listener's timer, a hint for changes that were rolled back would only cost a look
    session.info.pop(KEY, None)


class Publisher:
    """One thread and one connection per process and database; sends whatever is waiting."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pid = os.getpid()
        self.pending: deque[tuple[str, str]] = deque()
        self.wake = threading.Event()
        self.hurry = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.state = threading.Lock()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, name="notify-publisher", daemon=True)
        self.thread.start()

    def put(self, items: list[tuple[str, str]]) -> None:
        with self.state:
            self.pending.extend(items)
            self.idle.clear()
        if any(channel in HURRY_CHANNELS for channel, _ in items):
            self.hurry.set()
        self.wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything put so far was sent (tests, and a worker about to exit)."""
        return self.idle.wait(timeout)

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        while True:
            self.wake.wait()
            self.hurry.wait(LINGER)  # returns at once for a worker's wake-up
            self.hurry.clear()
            self.wake.clear()
            while self.pending:
                batch = []
                while self.pending and len(batch) < BATCH:
                    batch.append(self.pending.popleft())
                unique = list(dict.fromkeys(batch))  # PostgreSQL folds repeats within a transaction too
                for attempt in (1, 2):  # a connection the database closed since the last batch: once more
                    try:
                        if conn is None or conn.closed:
                            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
                        conn.execute(SEND, ([c for c, _ in unique], [p for _, p in unique]))
                        self.sent += len(unique)
                        break
                    except psycopg.Error as exc:  # a hint lost; listeners look again on their timers
                        if conn is not None:
                            conn.close()
                        conn = None
                        if attempt == 2:
                            log.warning("notify publisher: %d notifications dropped (%s)", len(unique), exc)
            with self.state:
                if not self.pending:
                    self.idle.set()


_publishers: dict[str, Publisher] = {}
_lock = threading.Lock()


def publisher(dsn: str) -> Publisher:
    """This process's publisher for a database (a new one after a fork: threads don't survive it)."""
    with _lock:
        current = _publishers.get(dsn)
        if current is None or current.pid != os.getpid() or not current.thread.is_alive():
            current = _publishers[dsn] = Publisher(dsn)
        return current


def flush(timeout: float = 5.0) -> bool:
    """Wait until this process's publishers have sent everything handed to them."""
    with _lock:
        mine = [p for p in _publishers.values() if p.pid == os.getpid()]
    return all(p.flush(timeout) for p in mine)
