"""Reading API input: one strict JSON object and known query parameters, each checked with a
clear 400 that names the field.

Strict because a silent acceptance is worse than an error: an unknown field or a misspelt filter
(`?stauts=failed`) would otherwise be ignored and the client would never learn of its mistake.
Values Python's json module lets through but no database or client can hold (NaN, Infinity,
1e400, lone surrogates, NUL, nesting deep enough to hit the recursion limit) are refused here,
before any handler sees them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from app import errors
from app.errors import ApiError
from app.telefonie.numbers import InvalidNumber, normalize_e164
from app.telefonie.schema import PayloadError, media_urls

MAX_ID = 2**31 - 1  # ids are INTEGER columns; anything larger can name nothing
MAX_DEPTH = 32
_INT = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only: int() also takes '٣', ' 5', '1_0'
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def parse_json(raw: bytes) -> Any:
    """A JSON document, or ValueError saying why it is not one we accept."""
    text = raw.decode("utf-8")  # strict: raw surrogates and invalid UTF-8 raise
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ValueError("the JSON is nested too deeply") from exc
    _check_values(data)
    return data


def _check_values(data: Any) -> None:
    """Walk the document without recursion: depth, NUL and lone surrogates in keys and strings;
    the error names where (`'body'`, `'media_url[2]'`)."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"the JSON is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            _check_string(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_string(key, "a field name")
                stack.append((item, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}[{i}]") for i, item in enumerate(value))


def _check_string(value: str, where: str = "") -> None:
    label = f"'{_printable(where)}'" if where and where != "a field name" else (where or "a string")
    if "\x00" in value:
        raise ValueError(f"{label} contains a NUL character")
    if _SURROGATE.search(value):
        raise ValueError(f"{label} contains a lone surrogate (not valid Unicode)")


def json_body(allowed: Iterable[str] | None = None, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; unknown fields (when `allowed` is given) are a 400 naming them.

    `optional`: an empty body reads as {} whatever its content type (opt-in/opt-out take an
    optional reason)."""
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise ApiError(413, errors.PAYLOAD_TOO_LARGE, "the body is too large") from exc
    if optional and not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise ApiError(
            415, errors.UNSUPPORTED_MEDIA_TYPE, "send a JSON body with Content-Type application/json"
        )
    try:
        data = parse_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, errors.INVALID_JSON, "the body is not valid JSON (UTF-8)") from exc
    except ValueError as exc:  # a value no client or database can hold: say which
        raise ApiError(400, errors.INVALID_JSON, f"the body is not acceptable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, errors.INVALID_JSON, "the body must be a JSON object")
    if allowed is not None:
        unknown(data, allowed, "field")
    return data


def query_args(allowed: Iterable[str]) -> Mapping[str, str]:
    """The query string, refusing unknown parameters and NUL or lone surrogates in any value."""
    unknown(request.args, allowed, "query parameter")
    for name, value in request.args.items(multi=True):
        try:
            _check_string(value, name)
        except ValueError as exc:
            raise ApiError(400, errors.INVALID_FIELD, str(exc)) from exc
    return request.args


def unknown(data: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        names = ", ".join(repr(_printable(name)) for name in extra[:5])
        raise ApiError(
            400, errors.UNKNOWN_PARAMETER, f"unknown {what}{'s' if len(extra) > 1 else ''}: {names}"
        )


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() and not _SURROGATE.match(c) else "?" for c in name[:40])


def number(data: Mapping[str, Any], name: str, code: str = errors.INVALID_NUMBER) -> str:
    try:
        return normalize_e164(data.get(name), name)
    except InvalidNumber as exc:
        raise ApiError(400, code, str(exc)) from exc


def text(data: Mapping[str, Any], name: str, *, max_len: int = 1600, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(400, errors.MISSING_FIELD, f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, errors.INVALID_FIELD, f"'{name}' must be a string")
    if len(value) > max_len:
        raise ApiError(400, errors.INVALID_FIELD, f"'{name}' is longer than {max_len} characters")
    try:
        _check_string(value, name)
    except ValueError as exc:
        raise ApiError(400, errors.INVALID_FIELD, str(exc)) from exc
    return value


def message_body(data: Mapping[str, Any], media_urls_given: bool, *, max_len: int = 1600) -> str:
    """A message's 'body': a string; blank (only whitespace) is refused like a missing one, and
    one over the character cap gets the same code as one over the segment limit (21617)."""
    value = data.get("body")
    if isinstance(value, str) and len(value) > max_len:
        raise ApiError(400, errors.BODY_TOO_LONG, f"'body' is longer than {max_len} characters")
    body = text(data, "body", max_len=max_len) or ""
    if body and not body.strip():
        raise ApiError(400, errors.BODY_REQUIRED, "'body' is blank (only whitespace)")
    if not body and not media_urls_given:
        raise ApiError(400, errors.BODY_REQUIRED, "'body' or 'media_url' is required")
    return body


def _is_uri(value: str) -> bool:
    """RFC 3986 characters only: a host like 'Ï' must come IDNA-encoded, spaces percent-encoded."""
    return value.isascii() and value.isprintable() and not any(c in value for c in ' "<>\\^`{|}')


def media(data: Mapping[str, Any]) -> list[str]:
    try:
        urls = media_urls(data.get("media_url"))
        if not all(_is_uri(url) for url in urls):
            raise PayloadError("'media_url' entries must be URLs (ASCII; encode other characters)")
        return urls
    except (PayloadError, ValueError) as exc:  # urlsplit raises ValueError on 'http://['
        message = (
            str(exc) if isinstance(exc, PayloadError) else "'media_url' entries must be http or https URLs"
        )
        raise ApiError(400, errors.INVALID_MEDIA, message) from exc


def callback_url(data: Mapping[str, Any], name: str = "status_callback") -> str | None:
    value = text(data, name, max_len=2000)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        ok = False
    if not ok or not _is_uri(value):
        raise ApiError(400, errors.INVALID_CALLBACK, f"'{name}' must be an http or https URL")
    return value


def integer(
    value: Any, name: str, *, default: int | None = None, lo: int | None = None, hi: int | None = None
) -> int | None:
    """An integer from a query parameter or a JSON field: ASCII digits only, within [lo, hi].
    Absent (None) gives the default; an empty value (`?page=`) is an error like any non-integer."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApiError(400, errors.INVALID_FIELD, f"'{name}' must be an integer")
    if isinstance(value, str):
        if not _INT.fullmatch(value):
            raise ApiError(400, errors.INVALID_FIELD, f"'{name}' must be an integer")
        value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ApiError(400, errors.INVALID_FIELD, f"'{name}' must be {bounds}")
    return value
