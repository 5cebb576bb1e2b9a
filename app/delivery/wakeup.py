"""How an idle worker waits: PostgreSQL LISTEN/NOTIFY (wakes within milliseconds of a commit
that queued a message), a short poll on SQLite."""

from __future__ import annotations

import time

import psycopg
from sqlalchemy.engine import Engine

CHANNEL = "outbound_queue"
SQLITE_POLL = 0.1


class Wakeup:
    @staticmethod
    def for_engine(engine: Engine) -> Wakeup:
        if engine.dialect.name == "postgresql":
            return ListenWakeup(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
        return PollWakeup()

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True when woken by a notification (work was queued)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class PollWakeup(Wakeup):
    def wait(self, timeout: float) -> bool:
        time.sleep(min(timeout, SQLITE_POLL))
        return False  # no notifications on SQLite: the caller's queue check finds new rows


class ListenWakeup(Wakeup):
    def __init__(self, dsn: str):
        self.dsn = dsn
        self.conn: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.dsn, autocommit=True)
            self.conn.execute(f"LISTEN {CHANNEL}")
        return self.conn

    def wait(self, timeout: float) -> bool:
        try:
            conn = self._connect()
            for _ in conn.notifies(timeout=max(0.01, timeout), stop_after=1):
                return True
            return False
        except psycopg.Error:
            self.close()
            time.sleep(min(timeout, 1.0))
            return False

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
