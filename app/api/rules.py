"""/api/v1/rules: CRUD and the dry run `POST /rules/test`."""

from __future__ import annotations

from flask import Response, jsonify

from app import errors
from app.api import bp
from app.api.inputs import json_body, number, text
from app.errors import ApiError
from app.extensions import db
from app.rules import crud
from app.rules.models import Rule
from app.rules.validation import FIELDS, IGNORED, RuleError
from app.telefonie.schema import parse_time
from app.types import utcnow


@bp.get("/rules")
def list_rules():
    return jsonify({"rules": [crud.rule_json(r) for r in crud.list_rules()]})


@bp.post("/rules")
def create_rule():
    data = json_body((*FIELDS, *IGNORED))
    try:
        rule = crud.create_rule(data)
    except crud.DuplicateName as exc:
        db.session.rollback()
        raise ApiError(409, "duplicate_name", str(exc)) from exc
    except RuleError as exc:
        db.session.rollback()
        raise ApiError(400, "invalid_rule", str(exc)) from exc
    db.session.commit()
    return jsonify(crud.rule_json(rule)), 201


@bp.get("/rules/<int:rule_id>")
def get_rule(rule_id: int):
    return jsonify(crud.rule_json(_find(rule_id)))


@bp.route("/rules/<int:rule_id>", methods=["PUT", "PATCH"])
def update_rule(rule_id: int):
    from flask import request

    rule = _find(rule_id)
    data = json_body((*FIELDS, *IGNORED))
    try:
        crud.update_rule(rule, data, partial=request.method == "PATCH")
    except crud.DuplicateName as exc:
        db.session.rollback()
        raise ApiError(409, "duplicate_name", str(exc)) from exc
    except RuleError as exc:
        db.session.rollback()
        raise ApiError(400, "invalid_rule", str(exc)) from exc
    db.session.commit()
    return jsonify(crud.rule_json(rule))


@bp.delete("/rules/<int:rule_id>")
def delete_rule(rule_id: int):
    crud.delete_rule(_find(rule_id))
    db.session.commit()
    return Response(status=204)


@bp.post("/rules/test")
def test_rule():
    data = json_body(("from", "to", "body", "at"))
    from_number = number(data, "from")
    to_number = number(data, "to")
    body = text(data, "body", required=True)
    at = utcnow()
    if data.get("at") is not None:
        at = parse_time(data["at"]) if isinstance(data["at"], str) else None
        if at is None:
            raise ApiError(400, errors.INVALID_FIELD, "'at' must be an ISO 8601 date-time")
    result = crud.try_message(from_number, to_number, body, at)
    db.session.rollback()
    return jsonify(result)


def _find(rule_id: int) -> Rule:
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        raise ApiError(404, errors.NOT_FOUND, f"no rule {rule_id}")
    return rule
