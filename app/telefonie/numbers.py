"""E.164 phone numbers, checked with phonenumbers."""

from __future__ import annotations

import re

import phonenumbers

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class InvalidNumber(ValueError):
    pass


def normalize_e164(value: object, field: str = "number") -> str:
    """The number itself when it is a valid E.164 number; InvalidNumber naming the field otherwise."""
    if not isinstance(value, str) or not _E164.match(value.strip()):
        raise InvalidNumber(f"'{field}' must be a phone number in E.164 format, like +14155550123")
    value = value.strip()
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"'{field}' is not a valid phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"'{field}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
