"""validate_rule: the API / YAML shape of a rule, each field's errors, normalised output."""

from __future__ import annotations

from typing import Any

import pytest

from app.rules.validation import RuleError, validate_rule

MINIMAL = {"name": "Opening hours", "patterns": ["HOURS", "OPEN"], "reply": "We open at 9."}

FULL = {
    "id": 7,
    "name": "Opening hours",
    "enabled": True,
    "priority": 10,
    "match": "first_word",
    "patterns": ["HOURS", "OPEN"],
    "number": None,
    "schedule": {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
        "timezone": "America/New_York",
        "when": "outside",
    },
    "first_message_only": False,
    "reply": "We open at 9. Hi {{ contact.name }}!",
    "tags": ["hours"],
    "close": False,
    "assign_to": None,
}


def rule(**changes: Any) -> dict:
    data = dict(MINIMAL)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_minimal_rule_gets_defaults() -> None:
    assert validate_rule(MINIMAL) == {
        "name": "Opening hours",
        "enabled": True,
        "priority": 100,
        "match": "first_word",
        "patterns": ["HOURS", "OPEN"],
        "number": None,
        "schedule": None,
        "first_message_only": False,
        "reply": "We open at 9.",
        "tags": [],
        "close": False,
        "assign_to": None,
    }


def test_contract_example_is_valid_and_id_is_ignored() -> None:
    result = validate_rule(FULL)
    assert "id" not in result
    assert result["schedule"] == FULL["schedule"]
    assert result["priority"] == 10
    assert set(result) == set(FULL) - {"id"}


def test_normalisation() -> None:
    result = validate_rule(
        rule(
            name="  Hours  ",
            match="exact",
            patterns=[" hours? ", "HOURS", "opening hours"],
            number="+12025550100",
            schedule={"days": ["FRI", "mon", "mon"], "start": "22:00", "end": "06:00", "timezone": "UTC"},
            tags=[" vip ", "vip", "after  hours"],
            assign_to=" Agent@Example.COM ",
        )
    )
    assert result["name"] == "Hours"
    assert result["patterns"] == ["hours?", "opening hours"]  # "HOURS" is the same pattern as "hours?"
    assert result["schedule"] == {
        "days": ["mon", "fri"],
        "start": "22:00",
        "end": "06:00",
        "timezone": "UTC",
        "when": "inside",
    }
    assert result["tags"] == ["vip", "after hours"]
    assert result["assign_to"] == "agent@example.com"


@pytest.mark.parametrize("match", ["exact", "first_word", "contains", "regex"])
def test_every_match_kind(match: str) -> None:
    assert validate_rule(rule(match=match, patterns=["hours"]))["match"] == match


def test_regex_patterns_are_kept_verbatim() -> None:
    patterns = [r"^\s*order\s+#?(\d{4,})\s*$", r"(?i)where.*(?P<thing>parcel|package)"]
    assert validate_rule(rule(match="regex", patterns=patterns))["patterns"] == patterns


def test_empty_reply_is_allowed_for_action_only_rules() -> None:
    assert validate_rule(rule(reply="", tags=["spam"], close=True))["reply"] == ""


def test_schedule_defaults_days_and_when() -> None:
    schedule = validate_rule(rule(schedule={"start": "09:00", "end": "17:00", "timezone": "Europe/Paris"}))[
        "schedule"
    ]
    assert schedule["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert schedule["when"] == "inside"


ERRORS = [
    # (changes, field, words in the message)
    ({"name": ...}, "name", "name is required"),
    ({"patterns": ...}, "patterns", "patterns is required"),
    ({"reply": ...}, "reply", "reply is required"),
    ({"colour": "red"}, "colour", "unknown field 'colour'"),
    ({"name": ""}, "name", "name must not be empty"),
    ({"name": "   "}, "name", "name must not be empty"),
    ({"name": 7}, "name", "name must be a string"),
    ({"name": "x" * 201}, "name", "at most 200"),
    ({"enabled": "yes"}, "enabled", "enabled must be true or false"),
    ({"enabled": 1}, "enabled", "enabled must be true or false"),
    ({"enabled": None}, "enabled", "enabled must be true or false"),
    ({"priority": "10"}, "priority", "priority must be a whole number"),
    ({"priority": 1.5}, "priority", "priority must be a whole number"),
    ({"priority": True}, "priority", "priority must be a whole number"),
    ({"priority": -1}, "priority", "priority must be between"),
    ({"priority": 10**9}, "priority", "priority must be between"),
    ({"match": "fuzzy"}, "match", "match must be one of exact, first_word, contains, regex"),
    ({"match": None}, "match", "match must be one of"),
    ({"patterns": "HOURS"}, "patterns", "patterns must be a list"),
    ({"patterns": []}, "patterns", "at least one pattern"),
    ({"patterns": ["ok", ""]}, "patterns", "patterns[1] must not be empty"),
    ({"patterns": ["   "]}, "patterns", "patterns[0] must not be empty"),
    ({"patterns": [3]}, "patterns", "patterns[0] must be a string"),
    ({"patterns": [None]}, "patterns", "patterns[0] must be a string"),
    ({"patterns": ["x" * 201]}, "patterns", "patterns[0] must be at most 200 characters"),
    ({"patterns": [f"p{i}" for i in range(51)]}, "patterns", "at most 50"),
    ({"patterns": ["?!"]}, "patterns", "patterns[0] is only punctuation"),
    ({"patterns": ["opening hours"]}, "patterns", "must be one word for first_word"),
    ({"match": "exact", "patterns": ["STOP"]}, "patterns", "STOP/HELP keyword"),
    ({"match": "exact", "patterns": ["help!"]}, "patterns", "STOP/HELP keyword"),
    (
        {"match": "regex", "patterns": ["("]},
        "patterns",
        "patterns[0] is not a valid regular expression: missing )",
    ),
    ({"match": "regex", "patterns": ["[a-"]}, "patterns", "is not a valid regular expression"),
    (
        {"match": "regex", "patterns": ["ok", r"(a)\1"]},
        "patterns",
        "patterns[1] is not a valid regular expression: backreferences",
    ),
    ({"match": "regex", "patterns": [r"(?P<x>a)(?P=x)"]}, "patterns", "backreferences"),
    (
        {"match": "regex", "patterns": [r"foo(?=bar)"]},
        "patterns",
        "lookahead and lookbehind are not supported",
    ),
    ({"match": "regex", "patterns": [r"(?<!no )hours"]}, "patterns", "lookahead and lookbehind"),
    ({"match": "regex", "patterns": ["a" * 201]}, "patterns", "at most 200 characters"),
    ({"number": "2025550100"}, "number", "E.164"),
    ({"number": "+1202555"}, "number", "number"),
    ({"number": "+19999999999"}, "number", "not a valid phone number"),
    ({"number": 12025550100}, "number", "E.164"),
    ({"schedule": "weekdays"}, "schedule", "schedule must be an object"),
    ({"schedule": {"start": "09:00", "end": "17:00"}}, "schedule.timezone", "schedule.timezone is required"),
    ({"schedule": {"end": "17:00", "timezone": "UTC"}}, "schedule.start", "schedule.start is required"),
    ({"schedule": {"start": "09:00", "timezone": "UTC"}}, "schedule.end", "schedule.end is required"),
    (
        {"schedule": {"start": "09:00", "end": "17:00", "timezone": "UTC", "tz": "x"}},
        "schedule.tz",
        "unknown",
    ),
    ({"schedule": {"start": "9:00", "end": "17:00", "timezone": "UTC"}}, "schedule.start", "HH:MM"),
    ({"schedule": {"start": "24:00", "end": "17:00", "timezone": "UTC"}}, "schedule.start", "HH:MM"),
    ({"schedule": {"start": "09:60", "end": "17:00", "timezone": "UTC"}}, "schedule.start", "HH:MM"),
    ({"schedule": {"start": "09:00", "end": "5pm", "timezone": "UTC"}}, "schedule.end", "HH:MM"),
    ({"schedule": {"start": "09:00", "end": 1020, "timezone": "UTC"}}, "schedule.end", "quote it"),
    ({"schedule": {"start": "09:00", "end": "09:00", "timezone": "UTC"}}, "schedule.end", "must differ"),
    (
        {"schedule": {"start": "09:00", "end": "17:00", "timezone": "Mars/Olympus"}},
        "schedule.timezone",
        "IANA",
    ),
    ({"schedule": {"start": "09:00", "end": "17:00", "timezone": "EST5EDTX"}}, "schedule.timezone", "IANA"),
    (
        {"schedule": {"start": "09:00", "end": "17:00", "timezone": "../../etc/passwd"}},
        "schedule.timezone",
        "IANA",
    ),
    ({"schedule": {"start": "09:00", "end": "17:00", "timezone": ""}}, "schedule.timezone", "IANA"),
    ({"schedule": {"start": "09:00", "end": "17:00", "timezone": 5}}, "schedule.timezone", "IANA"),
    (
        {"schedule": {"days": ["monday"], "start": "09:00", "end": "17:00", "timezone": "UTC"}},
        "schedule.days",
        "'monday' is not one of mon",
    ),
    (
        {"schedule": {"days": ["mon", "xyz"], "start": "09:00", "end": "17:00", "timezone": "UTC"}},
        "schedule.days",
        "'xyz'",
    ),
    (
        {"schedule": {"days": [], "start": "09:00", "end": "17:00", "timezone": "UTC"}},
        "schedule.days",
        "non-empty",
    ),
    (
        {"schedule": {"days": "mon", "start": "09:00", "end": "17:00", "timezone": "UTC"}},
        "schedule.days",
        "list",
    ),
    (
        {"schedule": {"start": "09:00", "end": "17:00", "timezone": "UTC", "when": "during"}},
        "schedule.when",
        "inside or outside",
    ),
    ({"first_message_only": "no"}, "first_message_only", "first_message_only must be true or false"),
    ({"reply": 5}, "reply", "reply must be a string"),
    ({"reply": None}, "reply", "reply must be a string"),
    ({"reply": "x" * 1601}, "reply", "at most 1600"),
    ({"reply": "Hi {{ contact.name "}, "reply", "reply is not a usable template"),
    ({"reply": "{% if %}"}, "reply", "reply is not a usable template"),
    ({"reply": "{% macro x() %}{% endmacro %}"}, "reply", "macros are not available"),
    ({"reply": "{% for i in range(10**9) %}x{% endfor %}"}, "reply", "range() is limited"),
    ({"reply": "{{ 'x'|center(99) }}"}, "reply", "center"),
    ({"tags": "vip"}, "tags", "tags must be a list"),
    ({"tags": [""]}, "tags", "tags[0] must be a non-empty string"),
    ({"tags": [1]}, "tags", "tags[0] must be a non-empty string"),
    ({"tags": ["x" * 51]}, "tags", "at most 50"),
    ({"tags": [f"t{i}" for i in range(21)]}, "tags", "at most 20"),
    ({"close": "true"}, "close", "close must be true or false"),
    ({"assign_to": "bob"}, "assign_to", "email"),
    ({"assign_to": "bob@localhost"}, "assign_to", "email"),
    ({"assign_to": 3}, "assign_to", "email"),
    ({"assign_to": "a b@example.com"}, "assign_to", "email"),
]


@pytest.mark.parametrize(("changes", "field", "message"), ERRORS)
def test_field_errors(changes: dict, field: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        validate_rule(rule(**changes))
    assert caught.value.field == field
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("data", [None, [], "rule", 7])
def test_not_an_object(data: Any) -> None:
    with pytest.raises(RuleError, match="must be an object") as caught:
        validate_rule(data)
    assert caught.value.field is None


def test_error_messages_name_the_field() -> None:
    for changes, field, _ in ERRORS:
        with pytest.raises(RuleError) as caught:
            validate_rule(rule(**changes))
        assert field.split(".")[-1] in str(caught.value) or field in str(caught.value), (
            changes,
            caught.value,
        )


def test_partial_allows_missing_required_fields_and_adds_no_defaults() -> None:
    assert validate_rule({"priority": 5}, partial=True) == {"priority": 5}
    assert validate_rule({}, partial=True) == {}
    assert validate_rule({"enabled": False, "tags": ["a"]}, partial=True) == {"enabled": False, "tags": ["a"]}


def test_partial_still_checks_what_is_given() -> None:
    with pytest.raises(RuleError) as caught:
        validate_rule({"priority": "high"}, partial=True)
    assert caught.value.field == "priority"
    with pytest.raises(RuleError) as caught:
        validate_rule({"color": 1}, partial=True)
    assert caught.value.field == "color"
    with pytest.raises(RuleError, match="backreferences"):
        validate_rule({"match": "regex", "patterns": [r"(a)\1"]}, partial=True)


def test_partial_patterns_without_match_are_checked_as_text() -> None:
    assert validate_rule({"patterns": ["opening hours"]}, partial=True) == {"patterns": ["opening hours"]}
