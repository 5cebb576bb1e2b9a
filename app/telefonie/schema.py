"""The provider's Message as our webhooks receive it: statuses, ranks, parsing and validation.

Statuses go through one table with a rank, so an update is applied only when it moves the
message forward (RapidPro courier's statusMapping).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from app.telefonie.numbers import InvalidNumber, normalize_e164

OUTBOUND_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
FINAL = frozenset({"delivered", "undelivered", "failed"})
INBOUND_STATUSES = frozenset({"receiving", "received"})
MAX_MEDIA = 10
MAX_BODY_CHARS = 5000
MAX_DEPTH = 16
_INTEGER = re.compile(r"^-?[0-9]{1,10}$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and UTF-16 surrogates standing alone


class PayloadError(ValueError):
    """Malformed or invalid payload: the answer is 400 and nothing is stored."""


def moves_forward(current: str, new: str) -> bool:
    """True when `new` may replace `current` (never backwards; the first final status wins)."""
    if current in FINAL:
        return False
    return OUTBOUND_RANK.get(new, -1) > OUTBOUND_RANK.get(current, -1)


@dataclass
class InboundMessage:
    provider_id: str
    from_number: str
    to_number: str
    body: str
    media_urls: list[str] = field(default_factory=list)
    date_created: datetime | None = None


@dataclass
class StatusReport:
    provider_id: str
    status: str
    error_code: int | None = None
    error_message: str | None = None
    price: str | None = None
    price_unit: str | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    num_segments: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def load_json(text: str) -> Any:
    """JSON as a payload may be: no NaN or Infinity, no number too large for a float, nesting
    within MAX_DEPTH (checked by `check_values`). PayloadError otherwise, never a server error."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise PayloadError(f"the body is nested more than {MAX_DEPTH} levels deep") from exc
    except ValueError as exc:  # also json.JSONDecodeError and int() over 4,300 digits
        raise PayloadError(f"the body is not valid JSON: {exc}") from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def check_values(data: Any) -> None:
    """Everything in a payload must be storable as it is (status payloads are kept whole, in a
    JSONB column on PostgreSQL): no NUL, no lone surrogate, in keys or values; no NaN or infinite
    number; at most MAX_DEPTH levels. Iterative, so no depth can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        _expect(depth <= MAX_DEPTH, f"the body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            _expect(not _UNSTORABLE.search(value), "text may not contain NUL or unpaired surrogates")
        elif isinstance(value, float):
            _expect(math.isfinite(value), "numbers must be finite")
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def parse_inbound(data: dict[str, Any]) -> InboundMessage:
    _expect(data.get("direction", "inbound") == "inbound", "'direction' must be 'inbound'")
    status = data.get("status", "received")
    _expect(isinstance(status, str) and status in INBOUND_STATUSES, "'status' must be 'received'")
    body = _optional_str(data, "body", MAX_BODY_CHARS) or ""
    media = media_urls(data.get("media_url"))
    _expect(body != "" or media, "'body' or 'media_url' is required")
    return InboundMessage(
        provider_id=_provider_id(data),
        from_number=_number(data, "from"),
        to_number=_number(data, "to"),
        body=body,
        media_urls=media,
        date_created=_optional_time(data, "date_created"),
    )


def parse_status(data: dict[str, Any]) -> StatusReport:
    status = data.get("status")
    _expect(
        isinstance(status, str) and status in OUTBOUND_RANK,
        f"'status' must be one of {', '.join(OUTBOUND_RANK)}",
    )
    _expect(data.get("direction", "outbound") == "outbound", "'direction' must be 'outbound'")
    for name in ("from", "to"):
        if data.get(name) not in (None, ""):
            _number(data, name)
    return StatusReport(
        provider_id=_provider_id(data),
        status=status,
        error_code=_optional_int(data, "error_code"),
        error_message=_optional_str(data, "error_message", 500),
        price=_optional_str(data, "price", 20),
        price_unit=_optional_str(data, "price_unit", 8),
        date_sent=_optional_time(data, "date_sent"),
        date_updated=_optional_time(data, "date_updated"),
        num_segments=_optional_int(data, "num_segments"),
        raw=data,
    )


def media_urls(value: Any, field_name: str = "media_url") -> list[str]:
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        value = [value]
    _expect(isinstance(value, list), f"'{field_name}' must be a list of URLs")
    _expect(len(value) <= MAX_MEDIA, f"'{field_name}' takes at most {MAX_MEDIA} URLs")
    for url in value:
        _expect(isinstance(url, str) and len(url) <= 2000, f"'{field_name}' entries must be URLs")
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unclosed IPv6 bracket: "http://["
            raise PayloadError(f"'{field_name}' entries must be http or https URLs") from None
        _expect(
            parts.scheme in ("http", "https") and bool(parts.netloc),
            f"'{field_name}' entries must be http or https URLs",
        )
    return list(value)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise PayloadError(message)


def _provider_id(data: dict[str, Any]) -> str:
    value = data.get("id")
    _expect(
        isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable() and value.strip() == value,
        "'id' is required: a string of at most 64 characters",
    )
    return value


def _number(data: dict[str, Any], name: str) -> str:
    try:
        return normalize_e164(data.get(name), name)
    except InvalidNumber as exc:
        raise PayloadError(str(exc)) from exc


def _optional_str(data: dict[str, Any], name: str, max_len: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and name == "price":
        value = str(value)
    _expect(isinstance(value, str), f"'{name}' must be a string")
    _expect(len(value) <= max_len, f"'{name}' is longer than {max_len} characters")
    _expect("\x00" not in value, f"'{name}' contains a NUL character")
    return value


def _optional_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and _INTEGER.match(value.strip()):  # ASCII digits only: not "²"
        value = int(value.strip())
    _expect(
        isinstance(value, int) and not isinstance(value, bool) and -(2**31) < value < 2**31,
        f"'{name}' must be an integer",
    )
    return value


def _optional_time(data: dict[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    _expect(isinstance(value, str) and len(value) <= 40, f"'{name}' must be an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise PayloadError(f"'{name}' must be an ISO 8601 date-time") from exc


def parse_time(value: Any) -> datetime | None:
    """A lenient reading of an ISO 8601 time: None when absent or unreadable."""
    try:
        return _optional_time({"t": value}, "t")
    except PayloadError:
        return None
