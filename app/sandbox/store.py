"""The sandbox's memory: message records and pending faults.

Request threads, the lifecycle scheduler and the tests all touch the same records, so every
access goes through one lock and callers only ever get copies (a caller mutating what it got
back must never change what the next reader sees). One process, no persistence: a restart is
a clean provider, which is what tests want.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.telefonie.segments import count_segments

STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "receiving", "received")
DIRECTIONS = ("inbound", "outbound")
SEND_FAULTS = ("error_500", "rate_limit", "timeout")
CALLBACK_FAULTS = ("duplicate_callbacks", "out_of_order_callbacks")
FAULT_MODES = SEND_FAULTS + CALLBACK_FAULTS

Message = dict[str, Any]


def now_iso() -> str:
    """ISO 8601 in UTC with a `Z`, to the millisecond so records made in one second still sort."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_message(
    *,
    direction: str,
    status: str,
    from_number: str,
    to_number: str,
    body: str,
    media_urls: Iterable[str],
    price_per_segment: str,
    price_unit: str,
) -> Message:
    """A Message as the seed spec describes it, priced the way a carrier would bill it.

    A media-only message still costs one segment (count_segments("") is 1). Optional fields
    the spec types as integer or date-time (`error_code`, `date_sent`) are left out until they
    have a value, because the spec does not allow them to be null.
    """
    segments = count_segments(body)
    media = list(media_urls)
    created = now_iso()
    return {
        "id": "TF" + uuid.uuid4().hex,
        "status": status,
        "direction": direction,
        "from": from_number,
        "to": to_number,
        "body": body,
        "media_url": media,
        "num_segments": segments,
        "num_media": len(media),
        "price": str(Decimal(price_per_segment) * segments),
        "price_unit": price_unit,
        "date_created": created,
        "date_updated": created,
    }


class MessageStore:
    """Messages by id, newest first when listed (as Twilio lists them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, Message] = {}

    def add(self, message: Message) -> Message:
        with self._lock:
            self._messages[message["id"]] = _copy(message)
        return _copy(message)

    def get(self, message_id: str) -> Message | None:
        with self._lock:
            message = self._messages.get(message_id)
            return _copy(message) if message is not None else None

    def update(self, message_id: str, changes: dict[str, Any]) -> Message | None:
        """Apply changes and stamp date_updated; None when the message is gone (deleted, reset)."""
        with self._lock:
            message = self._messages.get(message_id)
            if message is None:
                return None
            message.update(changes)
            message["date_updated"] = now_iso()
            return _copy(message)

    def delete(self, message_id: str) -> bool:
        with self._lock:
            return self._messages.pop(message_id, None) is not None

    def query(
        self,
        *,
        filters: dict[str, str],
        page: int = 1,
        page_size: int = 50,
    ) -> tuple[list[Message], int]:
        """One page of the messages whose fields equal every filter, and how many match in all."""
        items = list(filters.items())
        with self._lock:
            if not items:
                matching = list(reversed(self._messages.values()))
            else:
                matching = [
                    m for m in reversed(self._messages.values()) if all(m.get(f) == v for f, v in items)
                ]
            start = (page - 1) * page_size
            return [_copy(m) for m in matching[start : start + page_size]], len(matching)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


def _copy(message: Message) -> Message:
    """A copy no caller can change the stored record through: the values are strings and
    numbers except `media_url`, the one list (far cheaper than copy.deepcopy on the hot path)."""
    out = dict(message)
    out["media_url"] = list(message.get("media_url") or [])
    return out


class Faults:
    """How many of the next sends should fail, per mode.

    Send faults (500, 429, timeout) decide how one send is answered, so a send takes at most
    one of them, the oldest armed first. Callback faults shape how an accepted message's
    webhooks go out, so an accepted message takes every armed one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}

    def arm(self, mode: str, count: int) -> None:
        """Replace the pending count for a mode; a count of 0 disarms it."""
        with self._lock:
            self._pending.pop(mode, None)
            if count > 0:
                self._pending[mode] = count

    def take_send_fault(self) -> str | None:
        with self._lock:
            mode = next((m for m in self._pending if m in SEND_FAULTS), None)
            if mode is not None:
                self._consume(mode)
            return mode

    def take_callback_faults(self) -> frozenset[str]:
        with self._lock:
            modes = [m for m in self._pending if m in CALLBACK_FAULTS]
            for mode in modes:
                self._consume(mode)
            return frozenset(modes)

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"mode": mode, "count": count} for mode, count in self._pending.items()]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def _consume(self, mode: str) -> None:
        self._pending[mode] -= 1
        if self._pending[mode] <= 0:
            del self._pending[mode]
