"""Rules as YAML: export every rule; import validates all before writing any (all or nothing)."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select

from app.extensions import db
from app.rules import crud
from app.rules.models import Rule
from app.rules.validation import RuleError

MAX_RULES = 10_000


def export_rules() -> str:
    rules = [
        {k: v for k, v in crud.rule_json(r).items() if k not in ("id", "disabled_reason")}
        for r in crud.list_rules()
    ]
    return yaml.safe_dump({"rules": rules}, sort_keys=False, allow_unicode=True)


def import_rules(text: str, *, replace: bool = False) -> tuple[int, int]:
    """Create rules from YAML, updating those with the same name (compared case-folded);
    (created, updated). A file with two rules of one name is refused before anything is written."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError("yaml", f"the file is not valid YAML: {exc}") from exc
    items = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise RuleError("rules", "expected a list of rules (or a mapping with a 'rules' list)")
    if len(items) > MAX_RULES:
        raise RuleError("rules", f"at most {MAX_RULES} rules can be imported at once")
    for position, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise RuleError("rules", f"rule #{position} is not a mapping")
    _refuse_duplicate_names(items)
    if replace:
        for rule in list(db.session.scalars(select(Rule))):
            db.session.delete(rule)
        db.session.flush()
    existing = {r.name_key: r for r in db.session.scalars(select(Rule))}
    created = updated = 0
    for position, item in enumerate(items, 1):
        item: dict[str, Any] = {k: v for k, v in item.items() if k not in ("id", "disabled_reason")}
        key = crud.name_key(item["name"]) if isinstance(item.get("name"), str) else None
        try:
            if key in existing:
                crud.update_rule(existing[key], item)
                updated += 1
            else:
                crud.create_rule(item)
                created += 1
        except RuleError as exc:
            raise RuleError(exc.field, f"rule #{position} ({item.get('name')!r}): {exc.message}") from exc
    return created, updated


def _refuse_duplicate_names(items: list[dict]) -> None:
    """Import matches rules by name, so a file naming two rules alike (case-folded) is refused whole."""
    first: dict[str, int] = {}
    for position, item in enumerate(items, 1):
        name = item.get("name")
        if not isinstance(name, str):
            continue
        key = crud.name_key(name)
        if key in first:
            raise RuleError(
                "name",
                f"rule #{position} ({name!r}) has the same name as rule #{first[key]}; "
                "rule names must be unique, nothing was imported",
            )
        first[key] = position
