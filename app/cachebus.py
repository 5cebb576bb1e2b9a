"""Per-process caches refreshed at once when another process changes what they hold.

Triggers (migration 0009) on `rules`, `settings` and `consent_keywords` send
`NOTIFY cache_changed, '<table>'` when a change commits, whoever makes it (the admin, the API,
a YAML import, plain SQL). One listener thread per process keeps a dedicated connection
LISTENing and bumps a generation counter per table; a cache is valid while the generation it was
loaded at is current. While the listener is not connected (SQLite, a database restart), caches
fall back to their short time-to-live, and every generation is bumped on reconnect, since
notifications sent meanwhile are lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg

from app.extensions import db

CHANNEL = "cache_changed"
TABLES = ("rules", "settings", "consent_keywords")
LIVE_MAX_AGE = 300.0  # a safety net only: with the listener live, changes arrive at once
log = logging.getLogger(__name__)

_generations: dict[str, int] = dict.fromkeys(TABLES, 0)
_state: dict = {"pid": None, "live": False}
_lock = threading.Lock()


def generation(table: str) -> int:
    return _generations[table]


def max_age(fallback: float) -> float:
    """How long a cached value may be trusted: long while the listener is live, else `fallback`."""
    _ensure_listener()
    return LIVE_MAX_AGE if _state["live"] else fallback


def is_live() -> bool:
    return bool(_state["live"])


def bump(table: str | None = None) -> None:
    for name in TABLES if table is None else (table,):
        if name in _generations:
            _generations[name] += 1


def start(wait: float = 0.0) -> bool:
    """Start this process's listener and wait up to `wait` seconds for it to be live; True if live.
    Caches loaded after that are not reloaded by the listener's first (catch-up) bump."""
    _ensure_listener()
    if db.engine.dialect.name != "postgresql":
        return False  # no listener (SQLite): the caches use their time-to-live
    deadline = time.monotonic() + wait
    while not _state["live"] and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(_state["live"])


def _ensure_listener() -> None:
    """Start this process's listener on first use (after gunicorn forks, never in the master)."""
    if _state["pid"] == os.getpid():
        return
    with _lock:
        if _state["pid"] == os.getpid():
            return
        _state.update(pid=os.getpid(), live=False)
        engine = db.engine
        if engine.dialect.name != "postgresql":
            return
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        threading.Thread(target=_listen, args=(url,), name="cache-listener", daemon=True).start()


def _listen(url: str) -> None:
    delay = 0.5
    while True:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                bump()  # anything changed while nobody listened
                _state["live"] = True
                delay = 0.5
                while True:
                    for note in conn.notifies(timeout=15.0):
                        bump(note.payload)
                    conn.execute("SELECT 1")  # notice a dead connection even when all is quiet
        except Exception as exc:  # a restart, a network blip: fall back to TTLs, reconnect
            if _state["live"]:
                log.warning("cache listener lost its connection (%s); reconnecting", exc.__class__.__name__)
            _state["live"] = False
            bump()
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
