"""The rule form: HTML fields to the API's rule object and back, with an error per field.

The rule object (contract section 6) is validated by app.rules.validation; here each field is
checked on its own first, so the form can show every wrong field at once, not just the first.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from app.rules.models import Rule
from app.rules.schedule import DAYS
from app.rules.validation import MATCH_KINDS, RuleError, validate_rule

DAY_LABELS = {day: day.capitalize() for day in DAYS}


def blank() -> dict[str, Any]:
    return {
        "name": "",
        "enabled": True,
        "priority": "100",
        "match": "first_word",
        "patterns": "",
        "number": "",
        "use_schedule": False,
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
        "timezone": "America/New_York",
        "when": "inside",
        "first_message_only": False,
        "reply": "",
        "tags": "",
        "close": False,
        "assign_to": "",
    }


def from_rule(rule: Rule) -> dict[str, Any]:
    """A stored rule as the form's values."""
    schedule = rule.schedule or {}
    values = blank()
    values.update(
        {
            "name": rule.name,
            "enabled": rule.enabled,
            "priority": str(rule.priority),
            "match": rule.match,
            "patterns": "\n".join(rule.patterns or []),
            "number": rule.number or "",
            "first_message_only": rule.first_message_only,
            "reply": rule.reply or "",
            "tags": ", ".join(rule.tags or []),
            "close": rule.close,
            "assign_to": rule.assign_to or "",
        }
    )
    if schedule:
        values.update(
            {
                "use_schedule": True,
                "days": list(schedule.get("days") or []),
                "start": schedule.get("start", ""),
                "end": schedule.get("end", ""),
                "timezone": schedule.get("timezone", ""),
                "when": schedule.get("when", "inside"),
            }
        )
    return values


def from_form(form: MultiDict) -> dict[str, Any]:
    """The submitted values as the form shows them again (strings, lists and booleans)."""
    values = blank()
    for key in (
        "name",
        "priority",
        "match",
        "patterns",
        "number",
        "start",
        "end",
        "timezone",
        "when",
        "reply",
        "tags",
        "assign_to",
    ):
        values[key] = form.get(key, "")
    for key in ("enabled", "use_schedule", "first_message_only", "close"):
        values[key] = form.get(key) == "on"
    values["days"] = [d for d in form.getlist("days") if d in DAYS]
    return values


def to_rule_data(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values as a rule object, plus the errors found converting them."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "name": values["name"],
        "enabled": values["enabled"],
        "match": values["match"],
        "patterns": [
            line.strip() if values["match"] != "regex" else line.rstrip("\r")
            for line in values["patterns"].splitlines()
            if line.strip()
        ],
        "number": values["number"].strip() or None,
        "first_message_only": values["first_message_only"],
        "reply": values["reply"].replace("\r\n", "\n"),
        "tags": [t.strip() for t in values["tags"].split(",") if t.strip()],
        "close": values["close"],
        "assign_to": values["assign_to"].strip() or None,
        "schedule": None,
    }
    try:
        data["priority"] = int(values["priority"].strip())
    except ValueError:
        errors["priority"] = "priority must be a whole number (lower runs first)"
    if values["use_schedule"]:
        data["schedule"] = {
            "days": values["days"],
            "start": values["start"].strip(),
            "end": values["end"].strip(),
            "timezone": values["timezone"].strip(),
            "when": values["when"],
        }
    return data, errors


def field_errors(data: dict[str, Any]) -> dict[str, str]:
    """Each field checked alone (patterns against the chosen match kind), so all errors show."""
    errors: dict[str, str] = {}
    for name, value in data.items():
        probe = {name: value}
        if name == "patterns" and data.get("match") in MATCH_KINDS:
            probe["match"] = data["match"]
        try:
            validate_rule(probe, partial=True)
        except RuleError as exc:
            errors.setdefault(error_key(exc.field), exc.message)
    return errors


def error_key(field: str | None) -> str:
    """Where the form shows a RuleError: its field, or the form as a whole."""
    if field is None:
        return "form"
    if field.startswith("schedule"):
        return (
            field
            if field
            in ("schedule.days", "schedule.start", "schedule.end", "schedule.timezone", "schedule.when")
            else "schedule.start"
        )
    return field
