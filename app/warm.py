"""Fill a process's caches before it takes requests (gunicorn's post_worker_init, gunicorn.conf.py).

Without this, a fresh worker (a start, a deploy, `max_requests` recycling) met its first burst
cold: every thread loaded the settings, the consent keywords and the rule index at once, and the
cache listener's catch-up notification then made them do it all again. With 1,000 rules that
stalled the worker for a quarter to half a second, the p99 of the bench's rules runs.

Order matters: the listener first (and live), then the loads, so the listener's first bump does
not throw away what was just loaded. A database that is down at boot is not fatal: the worker
starts cold and the caches load on first use, as before.
"""

from __future__ import annotations

import logging
import os
import time

from flask import Flask

from app import cachebus, settings
from app.consent import service as consent
from app.extensions import db
from app.rules import service as rules
from app.rules.templates import ReplyTemplateError

LISTENER_WAIT = 2.0  # seconds: how long to wait for the cache listener to connect
# seconds a worker may spend compiling rules' replies before it takes requests (0.5–2 ms each:
# 1,000 rules took 0.5–0.6 s in the bench's workers); the rest compile on their first match. Bounded:
# gunicorn kills a worker whose post_worker_init outlasts its timeout (30 s).
REPLY_BUDGET = float(os.environ.get("WARM_REPLY_SECONDS", "3"))
log = logging.getLogger(__name__)


def warm(app: Flask) -> bool:
    """Start the cache listener and load the caches; True if all of it worked."""
    started = time.monotonic()
    try:
        with app.app_context():
            try:
                live = cachebus.start(wait=LISTENER_WAIT)
                index = rules.rule_index()
                settings.get_all()
                consent.keyword_set()
                replies = compile_replies(index.rules, started + REPLY_BUDGET)
            finally:
                db.session.remove()
    except Exception as exc:  # noqa: BLE001 - a cold start is still a start
        log.warning("caches not warmed (%s: %s); they load on first use", exc.__class__.__name__, exc)
        return False
    log.info(
        "caches warm in %.0f ms: %d rules (%d replies compiled), change listener %s",
        (time.monotonic() - started) * 1000,
        len(index.rules),
        replies,
        "live" if live else "off (caches use their time-to-live)",
    )
    return True


def compile_replies(specs, deadline: float) -> int:
    """Compile the rules' replies in the index's order until the deadline (RuleSpec.compiled_reply
    keeps each for as long as the index lives); how many were compiled. One that does not compile
    is left for the engine, which reports it on its match as always."""
    done = 0
    for spec in specs:
        if time.monotonic() >= deadline:
            break
        if spec.reply:
            try:
                spec.compiled_reply  # noqa: B018  (compiles and keeps it)
            except ReplyTemplateError:
                continue
            done += 1
    return done
