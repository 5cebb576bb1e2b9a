"""Push to the desk's tabs: Server-Sent Events fed by PostgreSQL LISTEN/NOTIFY.

One listener thread per web process holds one extra database connection with `LISTEN desk_events`
(the triggers of migration 0010 NOTIFY on every message and thread change, from whichever process
or machine wrote it) and fans each notification out to the open streams, one in-memory queue per
tab. An idle tab costs no query at all: the stream waits on its queue and sends a comment line as
heartbeat. A tab refetches its JSON only when something it shows changed.

Each stream holds a server thread (gunicorn gthread) while open, so it ends after SSE_MAX_SECONDS
and the browser's EventSource reconnects by itself (`retry:`); size `GUNICORN_THREADS` as
open tabs per process + request threads (README, "Team desk").

SQLite has no LISTEN: there the pages poll their JSON as before (stream_url() is None).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator

import psycopg
from flask import Response, abort, current_app, url_for
from flask_login import current_user

from app.admin import bp
from app.dbutil import notify
from app.extensions import db
from app.publish import DESK_CHANNEL

CHANNEL = DESK_CHANNEL
QUEUE_SIZE = 256
log = logging.getLogger(__name__)


class Hub:
    """The process's listener thread and its subscribers (one bounded queue per open stream)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pid = os.getpid()
        self.subscribers: set[queue.Queue] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="desk-events", daemon=True)
        self.thread.start()

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        with self.lock:
            self.subscribers.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self.lock:
            self.subscribers.discard(q)

    def count(self) -> int:
        with self.lock:
            return len(self.subscribers)

    def publish(self, payload: str) -> None:
        with self.lock:
            targets = list(self.subscribers)
        for q in targets:
            try:
                q.put_nowait(payload)
            except queue.Full:  # a stalled tab: tell it to refetch everything once it drains
                try:
                    q.get_nowait()
                    q.put_nowait('{"k":"resync"}')
                except (queue.Empty, queue.Full):
                    pass

    def _run(self) -> None:
        backoff = 0.5
        reconnect = False
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    if reconnect:  # something may have been missed while the connection was down
                        self.publish('{"k":"resync"}')
                    reconnect = True
                    backoff = 0.5
                    while not self.stop.is_set():
                        for note in conn.notifies(timeout=5.0):
                            self.publish(note.payload)
            except psycopg.Error as exc:
                self.ready.clear()
                log.warning("desk events: listener lost its connection (%s); reconnecting", exc)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)


_hub: Hub | None = None
_hub_lock = threading.Lock()


def enabled() -> bool:
    return db.engine.dialect.name == "postgresql" and current_app.config.get("DESK_PUSH", True)


def hub() -> Hub:
    """This process's hub, started on first use (after a fork, a new one: threads don't survive it)."""
    global _hub
    with _hub_lock:
        if _hub is None or _hub.pid != os.getpid() or not _hub.thread.is_alive():
            dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            _hub = Hub(dsn)
        return _hub


def stream_url() -> str | None:
    return url_for("admin.events") if enabled() else None


def notify_user_ended(user_id: int) -> None:
    """Close a deactivated user's open streams (sent at commit, to every process)."""
    notify(CHANNEL, json.dumps({"k": "user", "u": user_id}))


def sse(q: queue.Queue, user_id: int, h: Hub, max_seconds: float, heartbeat: float) -> Iterator[str]:
    try:
        yield "retry: 2000\n: connected\n\n"
        deadline = time.monotonic() + max_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                payload = q.get(timeout=min(heartbeat, left))
            except queue.Empty:
                yield ": ping\n\n"
                continue
            if '"user"' in payload:  # an account was deactivated: not for the browser
                if json.loads(payload).get("u") == user_id:
                    yield "event: ended\ndata: {}\n\n"
                    return
                continue
            yield f"data: {payload}\n\n"
    finally:
        h.unsubscribe(q)


def setting(name: str, default: float) -> float:
    """App config (tests) first, then the environment (operators), then the default."""
    value = current_app.config.get(name) or os.environ.get(name) or default
    try:
        return max(0.05, float(value))
    except ValueError:
        return default


@bp.get("/events")
def events():
    """text/event-stream; each `data:` is a desk_events payload (see migration 0010)."""
    if not enabled():
        abort(404)
    user_id = current_user.id
    max_seconds = setting("SSE_MAX_SECONDS", 300)
    heartbeat = setting("SSE_HEARTBEAT_SECONDS", 15)
    h = hub()
    q = h.subscribe()
    h.ready.wait(2.0)  # a just-started listener: let LISTEN be in place before the tab relies on it
    db.session.remove()  # hold no pooled connection for the life of the stream
    return Response(
        sse(q, user_id, h, max_seconds, heartbeat),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@bp.get("/unread.json")
def unread():
    """The tab title's count: threads with unread messages (asked on events, never on a timer)."""
    from sqlalchemy import func, select

    from app.conversations.models import Conversation

    count = db.session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.unread_count > 0)
    )
    return {"unread": count or 0}
