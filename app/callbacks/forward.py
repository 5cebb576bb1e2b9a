"""Delivering status forwards: claim due rows, POST each, signed, to its public address; retry.

The delivery worker calls `forward_due()` once a loop. It claims rows with a lease (other
workers skip them), hands the HTTP posts to a small thread pool, and returns at once, so a slow
or dead client endpoint never holds the worker's sending. A post is signed like the provider's
webhooks (Standard Webhooks, WEBHOOK_SECRET) so a client can verify it as it verifies
Telefonie's. Addresses are resolved and refused unless every address is public (no loopback,
private, link-local, reserved, multicast): a client must not make the service reach into its own
network. The connection then goes to the address that was checked (no second lookup a DNS
rebinding could change).
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased
from standardwebhooks import Webhook

from app.callbacks.address import Refused, pinned_session
from app.callbacks.models import CallbackForward
from app.conversations.models import Message
from app.conversations.serialize import message_json
from app.extensions import db
from app.types import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # 5 s, 10 s, 20 s ... about 21 minutes in all, then given up
BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0
LEASE = timedelta(seconds=60)
TIMEOUT = (3.05, 5.0)
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="callback")


def forward_due(limit: int = 20) -> int:
    """Claim up to `limit` due forwards and post them in the background; the number claimed.

    Needs an app context. Database errors propagate to the caller's error handling."""
    app = current_app._get_current_object()
    ids = claim(limit)
    for forward_id in ids:
        _pool.submit(_deliver_logged, app, forward_id)
    return len(ids)


def claim(limit: int) -> list[int]:
    """The oldest due forward of each message (statuses go out in order), leased to us."""
    now = utcnow()
    earlier = aliased(CallbackForward)
    ids = list(
        db.session.scalars(
            select(CallbackForward.id)
            .where(
                CallbackForward.done.is_(False),
                (CallbackForward.next_attempt_at.is_(None)) | (CallbackForward.next_attempt_at <= now),
                ~select(earlier.id)
                .where(
                    earlier.message_id == CallbackForward.message_id,
                    earlier.done.is_(False),
                    earlier.id < CallbackForward.id,
                )
                .exists(),
            )
            .order_by(CallbackForward.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in db.session.scalars(select(CallbackForward).where(CallbackForward.id.in_(ids))):
        row.next_attempt_at = now + LEASE
    db.session.commit()
    return ids


def _deliver_logged(app: Flask, forward_id: int) -> None:
    with app.app_context():
        try:
            deliver(forward_id)
        except Exception:
            db.session.rollback()
            log.exception("status forward %s failed unexpectedly", forward_id)
        finally:
            db.session.remove()


def deliver(forward_id: int) -> bool:
    """Post one forward now; record the outcome. True when the client answered 2xx."""
    forward = db.session.get(CallbackForward, forward_id)
    if forward is None or forward.done:
        return False
    message = db.session.get(Message, forward.message_id)
    payload = {**message_json(message), "status": forward.status} if message is not None else None
    db.session.rollback()  # no transaction held open during the post
    error = None
    if payload is not None:
        error = post(forward.url, payload, f"fwd_{forward.id}")
    forward = db.session.get(CallbackForward, forward_id)
    if forward is None:
        return False
    forward.attempts += 1
    if error is None:
        forward.done, forward.delivered_at, forward.last_error = True, utcnow(), None
    else:
        forward.last_error = error[:500]
        retry = error.startswith("HTTP") or error.startswith("network")
        if not retry or forward.attempts >= MAX_ATTEMPTS:
            forward.done = True
            log.warning("status forward %s given up: %s", forward_id, error)
        else:
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (forward.attempts - 1))
            forward.next_attempt_at = utcnow() + timedelta(seconds=random.uniform(delay / 2, delay))
    db.session.commit()
    return error is None


def _loopback_allowed() -> bool:
    """CALLBACKS_ALLOW_LOOPBACK=1: tests and a laptop may receive forwards on 127.0.0.1/::1 (never
    private or link-local addresses). Off unless set."""
    value = current_app.config.get("CALLBACKS_ALLOW_LOOPBACK", os.environ.get("CALLBACKS_ALLOW_LOOPBACK"))
    return value in (True, "1", "true", "yes")


def post(url: str, payload: dict, event_id: str) -> str | None:
    """POST the payload signed; None on a 2xx, else why (`refused: …`, `HTTP 500`, `network: …`)."""
    body = json.dumps(payload, separators=(",", ":"))
    timestamp = datetime.fromtimestamp(int(time.time()), UTC)
    signature = Webhook(current_app.config["WEBHOOK_SECRET"]).sign(event_id, timestamp, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "sms-service-status-forward/1",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
    try:
        session, target = pinned_session(url, allow_loopback=_loopback_allowed())
    except Refused as exc:
        return f"refused: {exc}"
    try:
        with session:
            resp = session.post(
                target, data=body.encode(), headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
    except requests.RequestException as exc:
        return f"network: {exc.__class__.__name__}"
    if 200 <= resp.status_code < 300:
        return None
    return f"HTTP {resp.status_code}"
