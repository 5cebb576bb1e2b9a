"""Reading API input: one JSON object, fields checked with clear errors naming the field."""

from __future__ import annotations

from typing import Any

from flask import request

from app.errors import ApiError
from app.telefonie.numbers import InvalidNumber, normalize_e164
from app.telefonie.schema import PayloadError, media_urls


def json_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def number(data: dict, name: str) -> str:
    try:
        return normalize_e164(data.get(name), name)
    except InvalidNumber as exc:
        raise ApiError(400, "21211", str(exc)) from exc


def text(data: dict, name: str, *, max_len: int = 1600, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"'{name}' must be a string")
    if len(value) > max_len:
        raise ApiError(400, "invalid_field", f"'{name}' is longer than {max_len} characters")
    if "\x00" in value:
        raise ApiError(400, "invalid_field", f"'{name}' contains a NUL character")
    return value


def media(data: dict) -> list[str]:
    try:
        return media_urls(data.get("media_url"))
    except PayloadError as exc:
        raise ApiError(400, "invalid_field", str(exc)) from exc


def integer(
    value: Any, name: str, *, default: int | None = None, lo: int | None = None, hi: int | None = None
) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ApiError(400, "invalid_field", f"'{name}' must be an integer")
    try:
        number_value = int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "invalid_field", f"'{name}' must be an integer") from exc
    if (lo is not None and number_value < lo) or (hi is not None and number_value > hi):
        raise ApiError(400, "invalid_field", f"'{name}' must be between {lo} and {hi}")
    return number_value
