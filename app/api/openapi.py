"""GET /api/v1/openapi.json: this API's OpenAPI document (no key needed to read it)."""

from __future__ import annotations

from flask import jsonify

from app.api import bp

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: str,
    schema: dict | None = None,
    body: dict | None = None,
    params: list | None = None,
    errors: tuple[str, ...] = ("400", "401"),
) -> dict:
    responses = {ok: {"description": "OK", **(_json(schema) if schema else {})}}
    for code in errors:
        responses[code] = {"description": "Error", **_json(ERROR)}
    op = {"summary": summary, "responses": responses}
    if body:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "schema": schema}


def _p(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


MSG = {"$ref": "#/components/schemas/Message"}
RULE = {"$ref": "#/components/schemas/Rule"}
CONV = {"$ref": "#/components/schemas/Conversation"}
CONTACT = {"$ref": "#/components/schemas/Contact"}
STR = {"type": "string"}
INT = {"type": "integer"}
CAMPAIGN = {"$ref": "#/components/schemas/Campaign"}
CAMPAIGN_BUCKETS = [
    "pending",
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "skipped_opted_out",
    "skipped_invalid",
    "skipped_duplicate",
    "cancelled",
]
CAMPAIGN_SCHEMA = {
    "type": "object",
    "properties": {
        "id": INT,
        "name": STR,
        "status": {"type": "string", "enum": ["scheduled", "running", "paused", "completed", "cancelled"]},
        "from": {"type": "array", "items": STR},
        "body": STR,
        "media_url": {"type": "array", "items": STR},
        "send_at": STR,
        "rate_per_minute": INT,
        "created_at": STR,
        "updated_at": STR,
        "counts": {"type": "object", "properties": {b: INT for b in [*CAMPAIGN_BUCKETS, "total", "replies"]}},
        "skipped_rows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"row": INT, "phone": STR, "status": STR, "reason": STR},
            },
        },
    },
}
CAMPAIGN_INPUT = {
    "type": "object",
    "required": ["name", "from"],
    "properties": {
        "name": STR,
        "from": {"oneOf": [STR, {"type": "array", "items": STR, "maxItems": 100}]},
        "body": STR,
        "media_url": {"type": "array", "items": STR, "maxItems": 10},
        "recipients": {
            "type": "array",
            "maxItems": 100000,
            "items": {
                "oneOf": [
                    STR,
                    {
                        "type": "object",
                        "properties": {"phone": STR, "name": STR, "fields": {"type": "object"}},
                    },
                ]
            },
        },
        "tag": STR,
        "send_at": STR,
        "rate_per_minute": {"type": "integer", "minimum": 1, "maximum": 6000},
    },
}
CAMPAIGN_LIST = {
    "type": "object",
    "properties": {"campaigns": {"type": "array", "items": CAMPAIGN}, "total": INT},
}
RECIPIENT_LIST = {
    "type": "object",
    "properties": {
        "total": INT,
        "recipients": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "phone": STR,
                    "name": STR,
                    "status": {"type": "string", "enum": CAMPAIGN_BUCKETS},
                    "message_id": STR,
                    "from": STR,
                    "error_code": INT,
                },
            },
        },
    },
}
STATUSES = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "receiving", "received"]

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "SMS conversations API",
        "version": "v1",
        "description": "Telefonie-compatible messages, plus conversations, contacts, consent and rules.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"ApiKeyAuth": []}],
    "paths": {
        "/messages": {
            "get": _op(
                "List messages",
                "200",
                {"type": "object", "properties": {"messages": {"type": "array", "items": MSG}, "total": INT}},
                params=[
                    _q("direction", {"type": "string", "enum": ["inbound", "outbound"]}),
                    _q("status", {"type": "string", "enum": STATUSES}),
                    _q("from", STR),
                    _q("to", STR),
                    _q("page", {"type": "integer", "minimum": 1}),
                    _q("page_size", {"type": "integer", "minimum": 1, "maximum": 100}),
                ],
            ),
            "post": _op(
                "Send a message (queued; 409 code 21610 if the recipient opted out)",
                "201",
                MSG,
                body={
                    "type": "object",
                    "required": ["to", "from"],
                    "properties": {
                        "to": STR,
                        "from": STR,
                        "body": STR,
                        "media_url": {"type": "array", "items": STR, "maxItems": 10},
                        "validity_period": INT,
                    },
                },
                errors=("400", "401", "409", "415"),
            ),
        },
        "/messages/{message_id}": {
            "get": _op("Get a message", "200", MSG, params=[_p("message_id")], errors=("401", "404")),
            "delete": _op("Delete a message", "204", params=[_p("message_id")], errors=("401", "404")),
        },
        "/conversations": {
            "get": _op(
                "Conversations, newest activity first",
                "200",
                {
                    "type": "object",
                    "properties": {
                        "conversations": {"type": "array", "items": CONV},
                        "next_cursor": {"type": "string", "nullable": True},
                    },
                },
                params=[_q("filter", STR), _q("q", STR), _q("cursor", STR), _q("limit", INT)],
            )
        },
        "/conversations/{id}": {
            "get": _op("A conversation", "200", CONV, params=[_p("id", INT)], errors=("401", "404"))
        },
        "/conversations/{id}/messages": {
            "get": _op(
                "A conversation's messages, oldest first",
                "200",
                {
                    "type": "object",
                    "properties": {
                        "messages": {"type": "array", "items": MSG},
                        "next_after": {"type": "integer", "nullable": True},
                    },
                },
                params=[_p("id", INT), _q("after", INT), _q("limit", INT)],
                errors=("401", "404"),
            ),
            "post": _op(
                "Reply in the conversation",
                "201",
                MSG,
                params=[_p("id", INT)],
                body={
                    "type": "object",
                    "properties": {"body": STR, "media_url": {"type": "array", "items": STR}},
                },
                errors=("400", "401", "404", "409"),
            ),
        },
        "/contacts/{phone}": {
            "get": _op(
                "A contact and its consent history",
                "200",
                CONTACT,
                params=[_p("phone")],
                errors=("400", "401", "404"),
            )
        },
        "/contacts/{phone}/opt-out": {"post": _op("Opt a contact out", "200", CONTACT, params=[_p("phone")])},
        "/contacts/{phone}/opt-in": {
            "post": _op("Opt a contact back in", "200", CONTACT, params=[_p("phone")])
        },
        "/rules": {
            "get": _op(
                "Rules by priority",
                "200",
                {"type": "object", "properties": {"rules": {"type": "array", "items": RULE}}},
            ),
            "post": _op("Create a rule", "201", RULE, body=RULE),
        },
        "/rules/{id}": {
            "get": _op("A rule", "200", RULE, params=[_p("id", INT)], errors=("401", "404")),
            "put": _op("Replace a rule", "200", RULE, body=RULE, params=[_p("id", INT)]),
            "patch": _op("Change some fields of a rule", "200", RULE, body=RULE, params=[_p("id", INT)]),
            "delete": _op("Delete a rule", "204", params=[_p("id", INT)], errors=("401", "404")),
        },
        "/campaigns": {
            "get": _op(
                "Campaigns, newest first (page, page_size ≤ 100)", "200", CAMPAIGN_LIST, errors=("401",)
            ),
            "post": _op(
                "Create a campaign: JSON, or multipart/form-data with a CSV file `recipients`; bad rows are"
                " skipped and counted, never a refusal",
                "201",
                CAMPAIGN,
                body=CAMPAIGN_INPUT,
            ),
        },
        "/campaigns/{id}": {
            "get": _op(
                "A campaign and its counts by bucket",
                "200",
                CAMPAIGN,
                params=[_p("id", INT)],
                errors=("401", "404"),
            ),
        },
        "/campaigns/{id}/recipients": {
            "get": _op(
                "A campaign's recipients, paged (page, page_size ≤ 100)",
                "200",
                RECIPIENT_LIST,
                params=[_p("id", INT)],
                errors=("400", "401", "404"),
            ),
        },
        "/campaigns/{id}/recipients.csv": {
            "get": {
                "summary": "Every recipient row as CSV (the report)",
                "parameters": [_p("id", INT)],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": STR}}}},
            },
        },
        **{
            f"/campaigns/{{id}}/{action}": {
                "post": _op(
                    f"{action.capitalize()} a campaign",
                    "200",
                    CAMPAIGN,
                    params=[_p("id", INT)],
                    errors=("401", "404", "409"),
                )
            }
            for action in ("pause", "resume", "cancel")
        },
        "/rules/test": {
            "post": _op(
                "Which consent keyword or rule would answer, without sending",
                "200",
                {
                    "type": "object",
                    "properties": {
                        "consent": {"type": "string", "nullable": True},
                        "rule": {"type": "object", "nullable": True},
                        "reply": {"type": "string", "nullable": True},
                    },
                },
                body={
                    "type": "object",
                    "required": ["from", "to", "body"],
                    "properties": {
                        "from": STR,
                        "to": STR,
                        "body": STR,
                        "at": {"type": "string", "format": "date-time"},
                    },
                },
            )
        },
    },
    "components": {
        "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {"code": STR, "message": STR}}},
            },
            "Message": {
                "type": "object",
                "required": ["id", "status", "direction", "from", "to"],
                "properties": {
                    "id": STR,
                    "status": {"type": "string", "enum": STATUSES},
                    "direction": {"type": "string", "enum": ["inbound", "outbound"]},
                    "from": STR,
                    "to": STR,
                    "body": STR,
                    "num_segments": INT,
                    "num_media": INT,
                    "price": STR,
                    "price_unit": STR,
                    "date_created": {"type": "string", "format": "date-time"},
                    "date_sent": {"type": "string", "format": "date-time"},
                    "date_updated": {"type": "string", "format": "date-time"},
                    "error_code": INT,
                    "error_message": STR,
                    "media_url": {"type": "array", "items": STR},
                    "conversation_id": INT,
                    "campaign_id": INT,
                    "encoding": {"type": "string", "enum": ["GSM-7", "UCS-2"]},
                },
            },
            "Campaign": CAMPAIGN_SCHEMA,
            "Contact": {
                "type": "object",
                "properties": {
                    "phone": STR,
                    "name": {"type": "string", "nullable": True},
                    "opted_out": {"type": "boolean"},
                },
            },
            "Conversation": {
                "type": "object",
                "properties": {
                    "id": INT,
                    "our_number": STR,
                    "contact": CONTACT,
                    "status": STR,
                    "flagged": {"type": "boolean"},
                    "unread_count": INT,
                },
            },
            "Rule": {
                "type": "object",
                "required": ["name", "patterns", "reply"],
                "properties": {
                    "id": INT,
                    "name": STR,
                    "enabled": {"type": "boolean"},
                    "priority": INT,
                    "match": {"type": "string", "enum": ["exact", "first_word", "contains", "regex"]},
                    "patterns": {"type": "array", "items": STR},
                    "number": {"type": "string", "nullable": True},
                    "schedule": {"type": "object", "nullable": True},
                    "first_message_only": {"type": "boolean"},
                    "reply": STR,
                    "tags": {"type": "array", "items": STR},
                    "close": {"type": "boolean"},
                    "assign_to": {"type": "string", "nullable": True},
                },
            },
        },
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(DOCUMENT)
