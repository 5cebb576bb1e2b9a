"""Input checks, answered the way Twilio answers them: 400 and a numeric code naming the problem.

The seed spec types `to` as a bare string and `body` as optional; a real provider checks much
more, and a sandbox that accepted what Telefonie refuses would hide the service's bugs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Request

from app.sandbox.store import DIRECTIONS, FAULT_MODES, STATUSES
from app.telefonie.numbers import InvalidNumber, normalize_e164

MAX_BODY_CHARS = 1600  # Twilio's limit for a concatenated body
MAX_MEDIA = 10
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
MAX_VALIDITY_PERIOD = 36000  # Twilio's ten hours
LIST_PARAMETERS = ("direction", "status", "from", "to", "page", "page_size")
INTEGER_FIELDS = ("validity_period", "count")

BAD_REQUEST = 20001
AUTH_FAILED = 20003
NOT_FOUND = 20404
INVALID_TO = 21211
INVALID_FROM = 21212
BODY_REQUIRED = 21602
FROM_REQUIRED = 21603
TO_REQUIRED = 21604
BODY_TOO_LONG = 21617
INVALID_MEDIA_URL = 21620
TOO_MANY_MEDIA = 21623
INVALID_CALLBACK_URL = 21609


class ApiError(Exception):
    """An answer other than success, with the HTTP status and the error body's code."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class NewMessage:
    to: str
    from_: str
    body: str
    media_urls: list[str] = field(default_factory=list)
    status_callback: str | None = None


def read_payload(request: Request) -> dict[str, Any]:
    """The request's fields from JSON or a form (`media_url` repeated), as Twilio clients send them."""
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, BAD_REQUEST, "The request body must be a JSON object")
        return data
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields: dict[str, Any] = {key: request.form.get(key) for key in request.form}
        if "media_url" in request.form:
            fields["media_url"] = request.form.getlist("media_url")
        for name in INTEGER_FIELDS:  # a form has only strings; JSON must say 5, not "5"
            value = fields.get(name)
            if value is not None and value.isascii() and value.isdigit():
                fields[name] = int(value)
        return fields
    raise ApiError(400, BAD_REQUEST, "Send the fields as a JSON object (application/json) or a form")


def parse_new_message(data: dict[str, Any], *, direction: str = "outbound") -> NewMessage:
    """A send (or a simulated inbound message) checked field by field."""
    to = _number(data, "to", required_code=TO_REQUIRED, invalid_code=INVALID_TO)
    from_ = _number(data, "from", required_code=FROM_REQUIRED, invalid_code=INVALID_FROM)
    body = data.get("body", "")
    if not isinstance(body, str):
        raise ApiError(400, BODY_REQUIRED, "'body' must be a string")
    media_urls = _media_urls(data.get("media_url", []))
    if not body and not media_urls:
        raise ApiError(400, BODY_REQUIRED, "A message needs a 'body' or a 'media_url'")
    if len(body) > MAX_BODY_CHARS:
        raise ApiError(400, BODY_TOO_LONG, f"'body' is longer than {MAX_BODY_CHARS} characters")
    callback = data.get("status_callback") if direction == "outbound" else None
    if direction == "outbound" and "status_callback" in data and not _is_http_url(callback):
        raise ApiError(400, INVALID_CALLBACK_URL, "'status_callback' must be an http(s) URL")
    validity = data.get("validity_period", 1)
    if not _is_integer(validity) or not 1 <= validity <= MAX_VALIDITY_PERIOD:
        message = f"'validity_period' must be a whole number of seconds from 1 to {MAX_VALIDITY_PERIOD}"
        raise ApiError(400, BAD_REQUEST, message)
    return NewMessage(to=to, from_=from_, body=body, media_urls=media_urls, status_callback=callback)


def parse_list_query(args: Any) -> tuple[dict[str, str], int, int]:
    """Filters, page and page size of a list request.

    An unknown status or parameter is a 400 rather than a silently wrong page: a client that
    misspells `page_size` should find out here, not in production.
    """
    unknown = sorted(set(args) - set(LIST_PARAMETERS))
    if unknown:
        raise ApiError(
            400, BAD_REQUEST, f"Unknown parameter {unknown[0]!r}; use {', '.join(LIST_PARAMETERS)}"
        )
    filters: dict[str, str] = {}
    for name, allowed in (("direction", DIRECTIONS), ("status", STATUSES), ("from", None), ("to", None)):
        value = args.get(name)
        if value is None:
            continue
        if allowed is not None and value not in allowed:
            raise ApiError(400, BAD_REQUEST, f"'{name}' must be one of: {', '.join(allowed)}")
        filters[name] = value
    page = _positive_int(args, "page", 1, maximum=None)
    page_size = _positive_int(args, "page_size", DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    return filters, page, page_size


def parse_fault(data: dict[str, Any]) -> tuple[str, int]:
    mode = data.get("mode")
    if mode not in FAULT_MODES:
        raise ApiError(400, BAD_REQUEST, f"'mode' must be one of: {', '.join(FAULT_MODES)}")
    count = data.get("count", 1)
    if not _is_integer(count) or count < 0:
        raise ApiError(400, BAD_REQUEST, "'count' must be a whole number, 0 or more")
    return mode, count


def _number(data: dict[str, Any], name: str, *, required_code: int, invalid_code: int) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise ApiError(400, required_code, f"'{name}' is required")
    try:
        return normalize_e164(value, name)
    except InvalidNumber as exc:
        raise ApiError(400, invalid_code, str(exc)) from None


def _media_urls(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ApiError(400, INVALID_MEDIA_URL, "'media_url' must be a list of URLs")
    if len(value) > MAX_MEDIA:
        raise ApiError(400, TOO_MANY_MEDIA, f"At most {MAX_MEDIA} 'media_url' entries")
    for url in value:
        if not _is_http_url(url):
            raise ApiError(400, INVALID_MEDIA_URL, f"'media_url' entries must be http(s) URLs: {url!r}")
    return list(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _positive_int(args: Any, name: str, default: int, *, maximum: int | None) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, BAD_REQUEST, f"'{name}' must be an integer") from None
    if value < 1 or (maximum is not None and value > maximum):
        limit = f"between 1 and {maximum}" if maximum is not None else "1 or more"
        raise ApiError(400, BAD_REQUEST, f"'{name}' must be {limit}")
    return value
