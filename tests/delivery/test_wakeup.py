"""An idle worker wakes on a new queued message (LISTEN/NOTIFY on PostgreSQL, a short poll on
SQLite) instead of sleeping out its idle wait."""

from __future__ import annotations

import threading
import time

from app.delivery.worker import Worker
from tests.conftest import wait_until
from tests.delivery.test_worker import queue, state


def test_idle_worker_wakes_on_new_message(app, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "DELIVERY_IDLE_WAIT", 60.0)
    w = Worker(app, threads=1)
    thread = threading.Thread(target=w.run_forever, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # the worker is now waiting, with nothing due for 60 s
        started = time.monotonic()
        message_id = queue(app, "+14155550151")
        assert wait_until(lambda: state(app, message_id).provider_id is not None, 10, 0.01)
        assert time.monotonic() - started < 10  # far less than the 60 s idle wait
    finally:
        w.stop.set()
        queue(app, "+14155550152")  # wake it so it sees the stop
        thread.join(15)
    assert not thread.is_alive()
