"""Rules: list, create, edit, enable/disable, reorder, delete, and "try a message"."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.admin import bp, rule_form
from app.conversations.models import Conversation
from app.extensions import db
from app.rules import crud
from app.rules.models import Rule
from app.rules.validation import MATCH_KINDS, MAX_PRIORITY, RuleError
from app.telefonie.numbers import InvalidNumber, normalize_e164

DEFAULT_TRY_FROM = "+14155550123"
DEFAULT_OUR_NUMBER = "+12025550199"


def find(rule_id: int) -> Rule:
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        abort(404)
    return rule


def our_number() -> str:
    latest = db.session.scalar(
        select(Conversation.our_number).order_by(Conversation.last_message_at.desc()).limit(1)
    )
    return latest or DEFAULT_OUR_NUMBER


def render_list(trial: dict | None = None, status: int = 200):
    trial = trial or {"from": DEFAULT_TRY_FROM, "to": our_number(), "body": "", "at": "", "errors": {}}
    return render_template("admin/rules.html", rules=list(crud.list_rules()), trial=trial), status


@bp.get("/rules")
def rules():
    return render_list()


def render_form(values: dict, errors: dict, rule: Rule | None, status: int = 200):
    return render_template(
        "admin/rule_form.html",
        values=values,
        errors=errors,
        rule=rule,
        match_kinds=MATCH_KINDS,
        day_labels=rule_form.DAY_LABELS,
    ), status


@bp.route("/rules/new", methods=["GET", "POST"])
def rule_new():
    if request.method == "GET":
        return render_form(rule_form.blank(), {}, None)
    return save_rule(None)


@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
def rule_edit(rule_id: int):
    rule = find(rule_id)
    if request.method == "GET":
        return render_form(rule_form.from_rule(rule), {}, rule)
    return save_rule(rule)


def save_rule(rule: Rule | None):
    values = rule_form.from_form(request.form)
    data, errors = rule_form.to_rule_data(values)
    errors = {**rule_form.field_errors(data), **errors}
    status = 400
    if not errors:
        try:
            if rule is None:
                rule = crud.create_rule(data)
            else:
                crud.update_rule(rule, data)
        except RuleError as exc:
            errors[rule_form.error_key(exc.field)] = exc.message
            status = 409 if isinstance(exc, crud.DuplicateName) else status
    if errors:
        db.session.rollback()
        return render_form(values, errors, rule if rule is not None and rule.id else None, status)
    db.session.commit()
    flash(f"Rule “{rule.name}” saved.", "info")
    return redirect(url_for("admin.rules"))


@bp.post("/rules/<int:rule_id>/toggle")
def rule_toggle(rule_id: int):
    rule = find(rule_id)
    try:
        crud.update_rule(rule, {"enabled": not rule.enabled}, partial=True)
    except RuleError as exc:  # enabling a rule that today's checks refuse: say why, change nothing
        db.session.rollback()
        flash(f"Rule “{rule.name}” cannot be enabled: {exc.message} Edit it first.", "error")
        return redirect(url_for("admin.rules"))
    db.session.commit()
    flash(f"Rule “{rule.name}” {'enabled' if rule.enabled else 'disabled'}.", "info")
    return redirect(url_for("admin.rules"))


@bp.post("/rules/<int:rule_id>/move")
def rule_move(rule_id: int):
    """Swap places with the neighbour above or below; renumber by tens when priorities tie."""
    rule = find(rule_id)
    ordered = list(crud.list_rules())
    at = ordered.index(rule)
    other = at - 1 if request.form.get("direction") == "up" else at + 1
    if not 0 <= other < len(ordered):
        return redirect(url_for("admin.rules"))
    neighbour = ordered[other]
    if neighbour.priority != rule.priority:
        first, second = rule.priority, neighbour.priority
        crud.update_rule(rule, {"priority": second}, partial=True)
        crud.update_rule(neighbour, {"priority": first}, partial=True)
    else:
        ordered[at], ordered[other] = ordered[other], ordered[at]
        for position, item in enumerate(ordered, start=1):
            crud.update_rule(item, {"priority": min(position * 10, MAX_PRIORITY)}, partial=True)
    db.session.commit()
    return redirect(url_for("admin.rules"))


@bp.post("/rules/<int:rule_id>/delete")
def rule_delete(rule_id: int):
    rule = find(rule_id)
    name = rule.name
    crud.delete_rule(rule)
    db.session.commit()
    flash(f"Rule “{name}” deleted.", "info")
    return redirect(url_for("admin.rules"))


@bp.post("/rules/try")
def rule_try():
    """Which consent keyword or rule would answer; sends and changes nothing."""
    form = request.form
    trial = {
        "from": form.get("from", "").strip(),
        "to": form.get("to", "").strip(),
        "body": form.get("body", ""),
        "at": form.get("at", "").strip(),
        "errors": {},
    }
    numbers = {}
    for field in ("from", "to"):
        try:
            numbers[field] = normalize_e164(trial[field], field)
        except InvalidNumber as exc:
            trial["errors"][field] = str(exc)
    at = datetime.now(UTC)
    if trial["at"]:
        try:
            at = datetime.fromisoformat(trial["at"])
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        except ValueError:
            trial["errors"]["at"] = "'at' must be a date and time like 2026-11-27T18:30 (UTC)"
    if not trial["body"].strip():
        trial["errors"]["body"] = "write the message to try"
    if trial["errors"]:
        return render_list(trial, 400)
    trial["result"] = crud.try_message(numbers["from"], numbers["to"], trial["body"], at)
    db.session.rollback()
    return render_list(trial)
