"""The life of a sent message: queued, sending, sent, then a final status, each one a webhook.

One scheduler thread moves every message along (a heap of due steps), so a burst of sends
costs heap entries rather than sleeping threads. The magic recipients of CONTRACT section 8
take their own path here; the callback faults (duplicates, reverse order) change only how the
webhooks go out, never the statuses the API shows.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field

from app.sandbox.callbacks import WebhookSender
from app.sandbox.store import Message, MessageStore, now_iso

log = logging.getLogger(__name__)

REFUSED_NUMBER = "+12025550103"

# Each step is (status, error_code, error_message); a message takes one step per STEP_DELAY.
DELIVERED = (("sending", None, None), ("sent", None, None), ("delivered", None, None))
PATHS = {
    "+12025550101": (
        ("sending", None, None),
        ("sent", None, None),
        ("undelivered", 30003, "Unreachable destination handset"),
    ),
    "+12025550102": (("sending", None, None), ("failed", 30008, "Unknown error")),
}


def path_for(recipient: str) -> tuple[tuple[str, int | None, str | None], ...]:
    """The statuses a message to this recipient goes through after `queued`."""
    return PATHS.get(recipient, DELIVERED)


@dataclass
class Track:
    """One message on its way: where its webhooks go and how they are to be mangled."""

    message_id: str
    callback_url: str | None
    steps: tuple[tuple[str, int | None, str | None], ...]
    duplicate: bool = False
    reverse: bool = False
    held: list[Message] = field(default_factory=list)


class Lifecycle:
    """Schedules status steps and turns each one into a status webhook."""

    def __init__(self, store: MessageStore, sender: WebhookSender, step_delay: float) -> None:
        self._store = store
        self._sender = sender
        self._step_delay = step_delay
        self._due: list[tuple[float, int, Track, int]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sandbox-lifecycle", daemon=True)
        self._thread.start()

    def begin(self, message: Message, callback_url: str | None, faults: frozenset[str]) -> None:
        """Announce the queued message and schedule the rest of its path."""
        track = Track(
            message_id=message["id"],
            callback_url=callback_url,
            steps=path_for(message["to"]),
            duplicate="duplicate_callbacks" in faults,
            reverse="out_of_order_callbacks" in faults,
        )
        self._announce(track, message, final=False)
        self._schedule(track, 0)

    def stop(self) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify()

    def _schedule(self, track: Track, step: int) -> None:
        with self._wakeup:
            due = time.monotonic() + self._step_delay
            heapq.heappush(self._due, (due, next(self._order), track, step))
            self._wakeup.notify()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopping and (not self._due or self._due[0][0] > time.monotonic()):
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wakeup.wait(timeout)
                if self._stopping:
                    return
                _, _, track, step = heapq.heappop(self._due)
            try:
                self._advance(track, step)
            except Exception:  # one bad step must not stop every other message
                log.exception("status step %d of %s failed", step, track.message_id)

    def _advance(self, track: Track, step: int) -> None:
        status, error_code, error_message = track.steps[step]
        changes: dict[str, object] = {"status": status}
        if status == "sent":
            changes["date_sent"] = now_iso()
        if error_code is not None:
            changes.update(error_code=error_code, error_message=error_message)
        message = self._store.update(track.message_id, changes)
        if message is None:  # deleted or reset meanwhile: the provider forgets it
            return
        final = step == len(track.steps) - 1
        self._announce(track, message, final=final)
        if not final:
            self._schedule(track, step + 1)

    def _announce(self, track: Track, message: Message, *, final: bool) -> None:
        if track.callback_url is None:
            return
        if track.reverse:
            track.held.append(message)
            if not final:
                return
            batch, track.held = list(reversed(track.held)), []
        else:
            batch = [message]
        for snapshot in batch:
            for _ in range(2 if track.duplicate else 1):
                self._sender.send(track.callback_url, snapshot, key=track.message_id)
