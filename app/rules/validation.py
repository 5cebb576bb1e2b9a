"""Validate a rule as it arrives from the API or a YAML import (contract section 6).

`validate_rule` returns the model's fields, normalised, or raises `RuleError` naming the field.
`id` may be present (a rule read from the API and sent back) and is ignored: it is never set from
input. Everything else not listed in `FIELDS` is an error, as is a value of the wrong type (no
"1" for 1, no 0 for false).

With `partial=True` only the fields present are checked and returned (nothing is defaulted), for
merging onto a stored rule. Checks that span fields (patterns against the match kind) then use the
`match` given, or treat the patterns as plain text when no `match` is given, so a PATCH should
merge first and validate the whole merged rule when it can.

An empty `reply` is allowed: the rule then only tags, closes or assigns.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2

from app.consent.keywords import DEFAULT_SET, HELP, OPT_OUT, fold, normalize
from app.conversations import tags
from app.rules.schedule import DAYS
from app.rules.templates import MAX_REPLY, ReplyTemplateError, check_reply
from app.telefonie import segments
from app.telefonie.numbers import InvalidNumber, normalize_e164

MATCH_KINDS = ("exact", "first_word", "contains", "regex")
MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 200
MAX_NAME_LENGTH = 200
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_PRIORITY = 1_000_000
MAX_EMAIL_LENGTH = 254
SCHEDULE_FIELDS = ("days", "start", "end", "timezone", "when")
# RE2 matches in linear time, but the constant is the program's size: `\w{0,1000}\w{0,1000}b`
# compiles to 18,000 instructions and takes ~150 ms on a 5,000-character body. So each pattern,
# each rule and the whole index have a budget of program instructions (ProgramSize), and RE2's
# own memory for a pattern is capped (`max_mem`).
REGEX_MAX_MEM = 4 << 20
MAX_PROGRAM_SIZE = 1_000
MAX_RULE_PROGRAM = 4_000
MAX_INDEX_PROGRAM = 20_000

DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "priority": 100,
    "match": "first_word",
    "number": None,
    "schedule": None,
    "first_message_only": False,
    "tags": [],
    "close": False,
    "assign_to": None,
}
REQUIRED = ("name", "patterns", "reply")
FIELDS = (
    "name",
    "enabled",
    "priority",
    "match",
    "patterns",
    "number",
    "schedule",
    "first_message_only",
    "reply",
    "tags",
    "close",
    "assign_to",
)
IGNORED = ("id", "disabled_reason")  # read-only: an object read from the API can be sent back

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_BACKREFERENCE = re.compile(r"\\[1-9]|\\g<|\(\?P=")
_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_ALWAYS_CONSUMED = DEFAULT_SET.words(OPT_OUT) | DEFAULT_SET.words(HELP)
_SAMPLE_CONTEXT = {
    "contact": {"name": "Ana", "phone": "+12025550123"},
    "message": {"body": "hours?", "from": "+12025550123", "to": "+12025550100"},
    "brand": "Acme",
}
# The worst case for length: the longest brand the settings accept and a long name, in characters
# outside GSM-7 that take two UTF-16 units each (so the reply is UCS-2 and as long as it gets).
LONGEST_BRAND = 60
LONG_NAME = 50
_WIDE = "\U0001f600"
_LONG_CONTEXT = {
    **_SAMPLE_CONTEXT,
    "contact": {"name": _WIDE * LONG_NAME, "phone": "+12025550123"},
    "brand": _WIDE * LONGEST_BRAND,
}
REPLY_NAMES = ("contact", "message", "brand")


class RuleError(ValueError):
    """A rule field is missing or wrong; `field` names it (dotted for schedule parts)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def regex_options() -> re2.Options:
    """Case-insensitive, and quiet: RE2 would otherwise log every refused pattern to stderr."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    return options


def program_size(pattern: str) -> int:
    """RE2's instruction count for the pattern, as the engine compiles it (re2.error if refused)."""
    return re2.compile(pattern, regex_options()).programsize


def regex_cost(patterns: list[str]) -> int:
    """The program instructions of a regex rule's patterns; an uncompilable one counts as the limit."""
    total = 0
    for pattern in patterns:
        try:
            total += program_size(pattern)
        except re2.error:
            total += MAX_PROGRAM_SIZE
    return total


def validate_rule(data: Any, *, partial: bool = False) -> dict:
    """The rule's model fields, normalised; RuleError naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise RuleError(None, "a rule must be an object (a mapping of field names to values)")
    unknown = [key for key in data if key not in FIELDS and key not in IGNORED]
    if unknown:
        raise RuleError(str(unknown[0]), f"unknown field {unknown[0]!r}; a rule has {', '.join(FIELDS)}")
    if not partial:
        for name in REQUIRED:
            if name not in data:
                raise RuleError(name, f"{name} is required")
    view = data if partial else {"match": DEFAULTS["match"], **data}
    result: dict[str, Any] = {}
    for name in FIELDS:
        if name in data:
            result[name] = _CHECKS[name](data[name], view)
        elif not partial and name in DEFAULTS:
            default = DEFAULTS[name]
            result[name] = list(default) if isinstance(default, list) else default
    return result


def _name(value: Any, data: dict) -> str:
    text = _string("name", value).strip()
    if not text:
        raise RuleError("name", "name must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise RuleError("name", f"name must be at most {MAX_NAME_LENGTH} characters")
    return text


def _priority(value: Any, data: dict) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError("priority", "priority must be a whole number (lower runs first)")
    if not 0 <= value <= MAX_PRIORITY:
        raise RuleError("priority", f"priority must be between 0 and {MAX_PRIORITY}")
    return value


def _match(value: Any, data: dict) -> str:
    if value not in MATCH_KINDS:
        raise RuleError("match", f"match must be one of {', '.join(MATCH_KINDS)}, not {value!r}")
    return value


def _patterns(value: Any, data: dict) -> list[str]:
    if not isinstance(value, list):
        raise RuleError("patterns", "patterns must be a list of strings")
    if not value:
        raise RuleError("patterns", "patterns must have at least one pattern")
    if len(value) > MAX_PATTERNS:
        raise RuleError("patterns", f"patterns may have at most {MAX_PATTERNS} entries")
    match = data.get("match")
    result: list[str] = []
    seen: set[str] = set()
    for position, pattern in enumerate(value):
        key = _pattern(position, pattern, match)
        if key not in seen:
            seen.add(key)
            result.append(pattern if match == "regex" else pattern.strip())
    if match == "regex" and (cost := regex_cost(result)) > MAX_RULE_PROGRAM:
        raise RuleError(
            "patterns",
            f"the patterns together compile to {cost} RE2 instructions; a rule may have at most "
            f"{MAX_RULE_PROGRAM} (use fewer or simpler patterns)",
        )
    return result


def _pattern(position: int, pattern: Any, match: str | None) -> str:
    """Checks one pattern for the match kind; answers the key it is deduplicated on."""
    where = f"patterns[{position}]"
    if not isinstance(pattern, str):
        raise RuleError("patterns", f"{where} must be a string")
    if not pattern.strip():
        raise RuleError("patterns", f"{where} must not be empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RuleError("patterns", f"{where} must be at most {MAX_PATTERN_LENGTH} characters")
    if match == "regex":
        _compile_regex(where, pattern)
        return pattern
    if match == "contains":
        return fold(pattern)
    if match is None:
        return fold(pattern)
    key = normalize(pattern)
    if not key:
        raise RuleError("patterns", f"{where} is only punctuation; nothing is left to match")
    if match == "first_word" and " " in key:
        raise RuleError("patterns", f"{where} must be one word for first_word; use exact or contains")
    if match == "exact" and key in _ALWAYS_CONSUMED:
        raise RuleError(
            "patterns", f"{where} {pattern.strip()!r} is a STOP/HELP keyword, answered before any rule runs"
        )
    return key


def _compile_regex(where: str, pattern: str) -> None:
    try:
        size = program_size(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if _BACKREFERENCE.search(pattern):
            reason = "backreferences (\\1) are not supported; RE2 guarantees linear-time matching"
        elif _LOOKAROUND.search(pattern):
            reason = "lookahead and lookbehind are not supported; RE2 guarantees linear-time matching"
        raise RuleError("patterns", f"{where} is not a valid regular expression: {reason}") from None
    if size > MAX_PROGRAM_SIZE:
        raise RuleError(
            "patterns",
            f"{where} is too costly to match: it compiles to {size} RE2 instructions and the limit is "
            f"{MAX_PROGRAM_SIZE}; bounded repeats such as \\w{{0,1000}} multiply the size, so use + or * "
            "or a smaller bound",
        )


def _number(value: Any, data: dict) -> str | None:
    if value is None:
        return None
    try:
        return normalize_e164(value, "number")
    except InvalidNumber as exc:
        raise RuleError("number", f"{exc} (or null for all our numbers)") from None


def _schedule(value: Any, data: dict) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RuleError("schedule", "schedule must be an object (days, start, end, timezone, when) or null")
    unknown = [key for key in value if key not in SCHEDULE_FIELDS]
    if unknown:
        raise RuleError(f"schedule.{unknown[0]}", f"unknown schedule field {unknown[0]!r}")
    for name in ("start", "end", "timezone"):
        if name not in value:
            raise RuleError(f"schedule.{name}", f"schedule.{name} is required")
    start, end = _hhmm("start", value["start"]), _hhmm("end", value["end"])
    if start == end:
        raise RuleError("schedule.end", "schedule.end must differ from schedule.start")
    when = value.get("when", "inside")
    if when not in ("inside", "outside"):
        raise RuleError("schedule.when", f"schedule.when must be inside or outside, not {when!r}")
    return {
        "days": _days(value.get("days", list(DAYS))),
        "start": start,
        "end": end,
        "timezone": _timezone(value["timezone"]),
        "when": when,
    }


def _days(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RuleError("schedule.days", "schedule.days must be a non-empty list like [mon, tue]")
    days = set()
    for day in value:
        name = day.strip().lower() if isinstance(day, str) else None
        if name not in DAYS:
            raise RuleError("schedule.days", f"schedule.days: {day!r} is not one of {', '.join(DAYS)}")
        days.add(name)
    return [day for day in DAYS if day in days]


def _hhmm(name: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise RuleError(
            f"schedule.{name}",
            f'schedule.{name} must be a string "HH:MM" (in YAML quote it: unquoted 17:00 reads as a number)',
        )
    if not isinstance(value, str) or not _HHMM.match(value.strip()):
        raise RuleError(f"schedule.{name}", f'schedule.{name} must be a 24-hour time "HH:MM", like "09:00"')
    return value.strip()


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError("schedule.timezone", "schedule.timezone must be an IANA zone like America/New_York")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RuleError(
            "schedule.timezone", f"schedule.timezone {value!r} is not a known IANA zone (like Europe/Paris)"
        ) from None
    return value.strip()


def _reply(value: Any, data: dict) -> str:
    text = _string("reply", value)
    if len(text) > MAX_REPLY:
        raise RuleError("reply", f"reply must be at most {MAX_REPLY} characters")
    try:
        _sample, longest = check_reply(text, [_SAMPLE_CONTEXT, _LONG_CONTEXT], REPLY_NAMES)
    except ReplyTemplateError as exc:
        raise RuleError("reply", f"reply is not a usable template: {exc}") from None
    parts = segments.count_segments(longest)
    if parts > segments.MAX_SEGMENTS:
        raise RuleError(
            "reply",
            f"reply can be {parts} segments long (with a {LONGEST_BRAND}-character brand and a "
            f"{LONG_NAME}-character name outside GSM-7, so UCS-2); the limit is {segments.MAX_SEGMENTS}",
        )
    return text


def _tags(value: Any, data: dict) -> list[str]:
    """Trimmed, each tag once compared case-folded (the first spelling kept): conversations.tags."""
    if not isinstance(value, list):
        raise RuleError("tags", "tags must be a list of strings")
    if len(value) > MAX_TAGS:
        raise RuleError("tags", f"tags may have at most {MAX_TAGS} entries")
    for position, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip():
            raise RuleError("tags", f"tags[{position}] must be a non-empty string")
        if len(tags.tidy(tag)) > MAX_TAG_LENGTH:
            raise RuleError("tags", f"tags[{position}] must be at most {MAX_TAG_LENGTH} characters")
    try:
        return tags.clean(value, limit=MAX_TAGS)
    except tags.TagError as exc:
        raise RuleError("tags", f"tags: {exc}") from None


def _assign_to(value: Any, data: dict) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _EMAIL.match(value.strip()) or len(value.strip()) > MAX_EMAIL_LENGTH:
        raise RuleError("assign_to", "assign_to must be an agent's email address, or null")
    return value.strip().lower()


def _boolean(name: str) -> Any:
    def check(value: Any, data: dict) -> bool:
        if not isinstance(value, bool):
            raise RuleError(name, f"{name} must be true or false")
        return value

    return check


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RuleError(name, f"{name} must be a string")
    return value


_CHECKS = {
    "name": _name,
    "enabled": _boolean("enabled"),
    "priority": _priority,
    "match": _match,
    "patterns": _patterns,
    "number": _number,
    "schedule": _schedule,
    "first_message_only": _boolean("first_message_only"),
    "reply": _reply,
    "tags": _tags,
    "close": _boolean("close"),
    "assign_to": _assign_to,
}
