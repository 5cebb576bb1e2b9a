"""Signed webhook delivery: what the provider does after it has answered the API call.

Webhooks go out from a few worker threads. Every webhook carries a key (a message id, or a
sender and recipient pair for inbound messages) and one key always lands on the same worker,
so the webhooks of one message arrive in the order they were made, while a receiver that keeps
failing for one message does not hold up every other message. A webhook is retried with
backoff until the receiver answers 2xx, and re-signed on each attempt so a late retry is not
refused for a stale timestamp.
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import threading
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    url: str
    body: str
    event_id: str
    generation: int = 0


def signed_headers(webhook: Webhook, event_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (CONTRACT section 3)."""
    at = at or datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": webhook.sign(event_id, at, body),
    }


class WebhookSender:
    """Queues webhooks and posts them, signed, until each is accepted or attempts run out."""

    def __init__(
        self,
        secret: str,
        *,
        workers: int = 4,
        max_attempts: int = 30,
        backoff: float = 0.5,
        max_backoff: float = 5.0,
        timeout: tuple[float, float] = (3.05, 10.0),
    ) -> None:
        self._webhook = Webhook(secret)
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._stopping = threading.Event()
        self._generation = 0  # bumped by clear(): older webhooks are dropped, retries abandoned
        self._queues: list[queue.Queue[Delivery | None]] = [queue.Queue() for _ in range(max(workers, 1))]
        self._threads = [
            threading.Thread(target=self._work, args=(q,), name=f"sandbox-webhooks-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()

    def send(self, url: str, payload: dict[str, Any], key: str) -> None:
        """Queue one webhook; the payload is serialized now, so later changes do not leak in."""
        delivery = Delivery(
            url=url, body=json.dumps(payload), event_id="msg_" + uuid.uuid4().hex, generation=self._generation
        )
        self._queues[zlib.crc32(key.encode()) % len(self._queues)].put(delivery)

    def clear(self) -> None:
        """Forget every queued webhook and stop retrying the ones in flight (a sandbox reset)."""
        self._generation += 1
        for q in self._queues:
            while True:
                try:
                    q.get_nowait()
                except queue.Empty:
                    break

    def stop(self) -> None:
        """Stop the workers after the webhook each one is on; queued webhooks are dropped."""
        self._stopping.set()
        for q in self._queues:
            q.put(None)

    def _work(self, jobs: queue.Queue[Delivery | None]) -> None:
        session = Poster(self._timeout)
        while not self._stopping.is_set():
            delivery = jobs.get()
            if delivery is None:
                break
            try:
                self._deliver(session, delivery)
            except Exception:  # keep the worker alive for the webhooks queued behind this one
                log.exception("webhook %s to %s failed", delivery.event_id, delivery.url)

    def _deliver(self, session: Poster, delivery: Delivery) -> bool:
        delay = self._backoff
        for attempt in range(1, self._max_attempts + 1):
            if delivery.generation != self._generation:
                return False
            if self._attempt(session, delivery, attempt):
                return True
            if self._stopping.wait(delay):
                return False
            delay = min(delay * 2, self._max_backoff)
        log.warning("gave up on webhook %s to %s after %d attempts", delivery.event_id, delivery.url, attempt)
        return False

    def _attempt(self, session: Poster, delivery: Delivery, attempt: int) -> bool:
        headers = signed_headers(self._webhook, delivery.event_id, delivery.body)
        try:
            status = session.post(delivery.url, delivery.body.encode(), headers)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            log.info("webhook %s attempt %d to %s failed: %s", delivery.event_id, attempt, delivery.url, exc)
            return False
        if 200 <= status < 300:
            return True
        log.info(
            "webhook %s attempt %d to %s answered %d",
            delivery.event_id,
            attempt,
            delivery.url,
            status,
        )
        return False


class Poster:
    """POSTs over kept-alive `http.client` connections, one per host: a webhook costs a fraction
    of what a `requests` call does, which matters when every sent message makes four."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        self._timeout = timeout
        self._connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for reuse in (True, False):
            conn = self._connections.get(key) if reuse else None
            fresh = conn is None
            if conn is None:
                kind = http.client.HTTPSConnection if key[0] == "https" else http.client.HTTPConnection
                conn = kind(key[1], key[2], timeout=self._timeout[1])
                self._connections[key] = conn
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._connections.pop(key, None)
                if fresh:  # a new connection failed: the receiver is down, not a stale keep-alive
                    raise
                continue
            if response.will_close:
                conn.close()
                self._connections.pop(key, None)
            return response.status
        raise http.client.HTTPException("no answer")
