"""E.164 phone numbers, checked with phonenumbers."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class InvalidNumber(ValueError):
    pass


def normalize_e164(value: object, field: str = "number") -> str:
    """The number itself when it is a valid E.164 number; InvalidNumber naming the field otherwise."""
    if not isinstance(value, str) or not _E164.match(value.strip()):
        raise InvalidNumber(f"'{field}' must be a phone number in E.164 format, like +14155550123")
    number = _valid_e164(value.strip())
    if number is None:
        raise InvalidNumber(f"'{field}' is not a valid phone number")
    return number


@lru_cache(maxsize=16384)
def _valid_e164(value: str) -> str | None:
    """phonenumbers' verdict on an E.164-shaped string (about 60 µs a parse): cached, because the
    same senders and our own numbers come back on every webhook. Bounded, and keyed on text that
    already matched _E164 (at most 16 characters), so hostile input cannot grow it."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
