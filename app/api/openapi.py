"""GET /api/v1/openapi.json: this API's OpenAPI document (no key needed to read it).

The document is checked by schemathesis in `make test` (tests/api/test_schemathesis.py): every
status an operation can answer is listed, every `$ref` resolves, every answer matches its
schema, and request schemas are no stricter than the server (data the schema calls invalid is
refused). Links between operations let the stateful phase use ids from real answers.
"""

from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.campaigns.models import BUCKETS

ERROR = {"$ref": "#/components/schemas/Error"}
MSG = {"$ref": "#/components/schemas/Message"}
RULE = {"$ref": "#/components/schemas/Rule"}
CONV = {"$ref": "#/components/schemas/Conversation"}
CONTACT = {"$ref": "#/components/schemas/Contact"}
CAMPAIGN = {"$ref": "#/components/schemas/Campaign"}
STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NTIME = {"type": "string", "format": "date-time", "nullable": True}
PHONE = {"type": "string", "format": "e164", "description": "E.164, like +14155550123"}
MAX_ID = 2**31 - 1
STATUSES = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "receiving", "received"]
HTTP_URL = {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2000}
URLS = {"type": "array", "items": HTTP_URL, "maxItems": 10, "nullable": True}
TEXT = {"type": "string", "maxLength": 1600, "nullable": True}  # null reads as absent

# What each status means, for every operation (a key that is wrong, an unknown query parameter,
# a database that is away can happen anywhere).
ERRORS = {
    "400": "Invalid input: the message names the field (codes 20001, 21211, 21212, 21602, 21609, "
    "21617, 21620, invalid_field, invalid_json, missing_field, invalid_rule; campaigns also "
    "invalid_template, invalid_recipients, file_too_large)",
    "401": "Missing or wrong X-API-Key (20003)",
    "403": "A read-only API key asked to change something (20403)",
    "404": "No such resource (20404)",
    "409": "Conflict: opted-out recipient (21610), or a campaign state that does not allow it",
    "413": "Body over the size limit (payload_too_large)",
    "429": "The key's rate limit is exceeded; retry after Retry-After seconds (20429)",
    "415": "Body not sent as application/json (unsupported_media_type)",
    "503": "The database is unavailable; retry after Retry-After seconds (20503)",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    op_id: str,
    summary: str,
    ok: str,
    schema: dict | None = None,
    *,
    body: dict | None = None,
    body_required: bool = True,
    params: list | None = None,
    errors: tuple[str, ...] = (),
    links: dict | None = None,
    example: dict | None = None,
    content_type: str | None = None,
) -> dict:
    responses: dict = {ok: {"description": "OK", **(_json(schema) if schema else {})}}
    if content_type:
        responses[ok]["content"] = {content_type: {"schema": STR}}
    if links:
        responses[ok]["links"] = links
    codes = {"400", "401", "403", "429", "503", *errors}  # 403: a read-only key's write; 429: rate limit
    if body:
        codes |= {"413", "415"}
    if any(p["in"] == "path" for p in params or ()):
        codes.add("404")
    for code in sorted(codes):
        responses[code] = {"description": ERRORS[code], **_json(ERROR)}
        if code == "503":
            responses[code]["headers"] = RETRY_AFTER
    op = {"operationId": op_id, "summary": summary, "responses": responses}
    if body:
        op["requestBody"] = {"required": body_required, **_json(body)}
        if example:
            op["requestBody"]["content"]["application/json"]["example"] = example
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _p(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def _link(op_id: str, **parameters: str) -> dict:
    return {"operationId": op_id, "parameters": parameters}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
ID_PARAM = _p("id", ID)
MESSAGE_LINKS = {
    "GetMessage": _link("getMessage", message_id="$response.body#/id"),
    "DeleteMessage": _link("deleteMessage", message_id="$response.body#/id"),
    "GetConversation": _link("getConversation", id="$response.body#/conversation_id"),
    "ConversationMessages": _link("listConversationMessages", id="$response.body#/conversation_id"),
    "Reply": _link("replyInConversation", id="$response.body#/conversation_id"),
}
RULE_LINKS = {
    name: _link(op_id, id="$response.body#/id")
    for name, op_id in (("GetRule", "getRule"), ("ReplaceRule", "replaceRule"), ("ChangeRule", "changeRule"))
} | {"DeleteRule": _link("deleteRule", id="$response.body#/id")}
CAMPAIGN_LINKS = {
    "GetCampaign": _link("getCampaign", id="$response.body#/id"),
    **{
        f"{a.capitalize()}Campaign": _link(f"{a}Campaign", id="$response.body#/id")
        for a in ("pause", "resume", "cancel")
    },
}
CONTACT_LINKS = {
    "GetContact": _link("getContact", phone="$response.body#/phone"),
    "OptIn": _link("optIn", phone="$response.body#/phone"),
    "OptOut": _link("optOut", phone="$response.body#/phone"),
}
RULE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"description": "ignored (the id is in the path)"},
        "disabled_reason": {"description": "ignored (read-only: why the service disabled the rule)"},
        "name": STR,
        "enabled": BOOL,
        "priority": INT,
        "match": {"type": "string", "enum": ["exact", "first_word", "contains", "regex"]},
        "patterns": {"type": "array", "items": STR},
        "number": {**PHONE, "nullable": True},
        "schedule": {"type": "object", "nullable": True},
        "first_message_only": BOOL,
        "reply": STR,
        "tags": {"type": "array", "items": STR},
        "close": BOOL,
        "assign_to": NSTR,
    },
}

CAMPAIGN_BUCKETS = list(BUCKETS)
PAGE_PARAMS = [
    _q("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
    _q("page_size", {"type": "integer", "minimum": 1, "maximum": 100}),
]
RECIPIENT = {
    "type": "object",
    "properties": {
        "phone": PHONE,
        "name": {"type": "string", "maxLength": 200, "nullable": True},
        "fields": {"type": "object", "nullable": True},
    },
}
# An audience row is never a refusal (README, "Campaigns"): a number or a {phone, name, fields}
# object is a recipient; any other value, or one with a bad number, name or fields, is kept as a
# skipped_invalid row (named in skipped_rows). So every value is valid here.
RECIPIENT_ROW = {
    "anyOf": [PHONE, RECIPIENT, {"description": "anything else: kept as a skipped_invalid row"}],
}
CAMPAIGN_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "from"],
    "properties": {
        "name": {"type": "string", "maxLength": 200},
        "from": {"oneOf": [PHONE, {"type": "array", "items": PHONE, "minItems": 1, "maxItems": 100}]},
        "body": TEXT,
        "media_url": URLS,
        "recipients": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100_000,
            "items": RECIPIENT_ROW,
            "nullable": True,
            "description": "The audience, one row each (or a CSV file in multipart); exactly one of "
            "recipients and tag",
        },
        "tag": {
            "type": "string",
            "maxLength": 100,
            "nullable": True,
            "description": "The audience: every contact with a conversation carrying this tag",
        },
        # ISO 8601 as the server reads it (app/campaigns/intake.parse_send_at): more than RFC 3339's
        # `date-time` (a date alone is midnight, no offset is UTC), and "" (a form's empty field)
        # or null is now. So not `format: date-time`, which would call those invalid.
        "send_at": {
            "type": "string",
            "format": "iso8601",
            "maxLength": 64,
            "nullable": True,
            "description": "ISO 8601 date and time, like 2026-12-01T09:00:00Z (no offset: UTC); "
            "empty or null: now; more than a minute in the past is refused",
        },
        "rate_per_minute": {"type": "integer", "minimum": 1, "maximum": 6000, "nullable": True},
    },
}
RECIPIENT_LIST = {
    "type": "object",
    "required": ["recipients", "total", "page", "page_size"],
    "properties": {
        "total": INT,
        "page": INT,
        "page_size": INT,
        "recipients": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer", "nullable": True},
                    "phone": STR,
                    "name": NSTR,
                    "status": {"type": "string", "enum": CAMPAIGN_BUCKETS},
                    "message_id": NSTR,
                    "from": NSTR,
                    "error_code": {"type": "integer", "nullable": True},
                },
            },
        },
    },
}

PATHS = {
    "/messages": {
        "get": _op(
            "listMessages",
            "List messages, newest first",
            "200",
            {
                "type": "object",
                "required": ["messages", "total", "page", "page_size"],
                "properties": {
                    "messages": {"type": "array", "items": MSG},
                    "total": INT,
                    "page": INT,
                    "page_size": INT,
                },
            },
            params=[
                _q("direction", {"type": "string", "enum": ["inbound", "outbound"]}),
                _q("status", {"type": "string", "enum": STATUSES}),
                _q("from", PHONE),
                _q("to", PHONE),
                _q("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
                _q("page_size", {"type": "integer", "minimum": 1, "maximum": 100}),
            ],
        ),
        "post": _op(
            "sendMessage",
            "Send a message (queued; 409 code 21610 if the recipient opted out)",
            "201",
            MSG,
            body={
                "type": "object",
                "additionalProperties": False,
                "required": ["to", "from"],
                "properties": {
                    "to": PHONE,
                    "from": PHONE,
                    "body": TEXT,
                    "media_url": URLS,
                    "status_callback": {
                        **HTTP_URL,
                        "nullable": True,
                        "description": "Each status of the message is posted here, signed like "
                        "the provider's webhooks (public addresses only)",
                    },
                    "validity_period": {"type": "integer", "minimum": 1, "maximum": 14400, "nullable": True},
                },
            },
            errors=("409",),
            links=MESSAGE_LINKS,
            example={"to": "+14155550123", "from": "+12025550199", "body": "Your order has shipped"},
        ),
    },
    "/messages/{message_id}": {
        "get": _op("getMessage", "Get a message", "200", MSG, params=[_p("message_id")]),
        "delete": _op("deleteMessage", "Delete a message", "204", params=[_p("message_id")]),
    },
    "/conversations": {
        "get": _op(
            "listConversations",
            "Conversations, newest activity first",
            "200",
            {
                "type": "object",
                "required": ["conversations", "next_cursor"],
                "properties": {"conversations": {"type": "array", "items": CONV}, "next_cursor": NSTR},
            },
            params=[
                _q(
                    "filter",
                    {
                        "type": "string",
                        "description": "open, closed, unread, flagged, opted_out, mine, campaigns",
                    },
                ),
                _q("q", {"type": "string", "maxLength": 100}),
                _q("cursor", STR),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
            ],
        )
    },
    "/conversations/{id}": {"get": _op("getConversation", "A conversation", "200", CONV, params=[ID_PARAM])},
    "/conversations/{id}/messages": {
        "get": _op(
            "listConversationMessages",
            "A conversation's messages, oldest first",
            "200",
            {
                "type": "object",
                "required": ["messages", "next_after"],
                "properties": {
                    "messages": {"type": "array", "items": MSG},
                    "next_after": {"type": "integer", "nullable": True},
                },
            },
            params=[
                ID_PARAM,
                _q("after", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            ],
        ),
        "post": _op(
            "replyInConversation",
            "Reply in the conversation",
            "201",
            MSG,
            params=[ID_PARAM],
            body={
                "type": "object",
                "additionalProperties": False,
                "properties": {"body": TEXT, "media_url": URLS},
            },
            errors=("409",),
        ),
    },
    "/contacts/{phone}": {
        "get": _op(
            "getContact", "A contact and its consent history", "200", CONTACT, params=[_p("phone", PHONE)]
        )
    },
    **{
        f"/contacts/{{phone}}/{action}": {
            "post": _op(
                op_id,
                summary,
                "200",
                CONTACT,
                params=[_p("phone", PHONE)],
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"reason": {"type": "string", "maxLength": 500, "nullable": True}},
                },
                body_required=False,
                links=CONTACT_LINKS,
            )
        }
        for action, op_id, summary in (
            ("opt-out", "optOut", "Opt a contact out (source api)"),
            ("opt-in", "optIn", "Opt a contact back in (source api)"),
        )
    },
    "/rules": {
        "get": _op(
            "listRules",
            "Rules by priority",
            "200",
            {
                "type": "object",
                "required": ["rules"],
                "properties": {"rules": {"type": "array", "items": RULE}},
            },
        ),
        "post": _op(
            "createRule",
            "Create a rule",
            "201",
            RULE,
            body={**RULE_BODY, "required": ["name", "patterns", "reply"]},
            errors=("409",),
            links=RULE_LINKS,
            example={
                "name": "Opening hours",
                "patterns": ["HOURS"],
                "reply": "We open at 9, {{ contact.phone }}",
            },
        ),
    },
    "/rules/test": {
        "post": _op(
            "testRule",
            "Which consent keyword or rule would answer, without sending",
            "200",
            {
                "type": "object",
                "required": ["consent", "rule", "reply"],
                "properties": {
                    "consent": {
                        "type": "string",
                        "nullable": True,
                        "enum": ["opt_out", "opt_in", "help", None],
                    },
                    "rule": {
                        "type": "object",
                        "nullable": True,
                        "properties": {"id": INT, "name": STR},
                    },
                    "reply": NSTR,
                },
            },
            body={
                "type": "object",
                "additionalProperties": False,
                "required": ["from", "to", "body"],
                "properties": {
                    "from": PHONE,
                    "to": PHONE,
                    "body": {"type": "string", "maxLength": 1600},
                    "at": NTIME,
                },
            },
        )
    },
    "/rules/{id}": {
        "get": _op("getRule", "A rule", "200", RULE, params=[ID_PARAM]),
        "put": _op(
            "replaceRule",
            "Replace a rule",
            "200",
            RULE,
            body={**RULE_BODY, "required": ["name", "patterns", "reply"]},
            params=[ID_PARAM],
            errors=("409",),
        ),
        "patch": _op(
            "changeRule",
            "Change some fields of a rule",
            "200",
            RULE,
            body=RULE_BODY,
            params=[ID_PARAM],
            errors=("409",),
        ),
        "delete": _op("deleteRule", "Delete a rule", "204", params=[ID_PARAM]),
    },
    "/campaigns": {
        "get": _op(
            "listCampaigns",
            "Campaigns, newest first",
            "200",
            {
                "type": "object",
                "required": ["campaigns", "total", "page", "page_size"],
                "properties": {
                    "campaigns": {"type": "array", "items": CAMPAIGN},
                    "total": INT,
                    "page": INT,
                    "page_size": INT,
                },
            },
            params=PAGE_PARAMS,
        ),
        "post": _op(
            "createCampaign",
            "Create a campaign: JSON, or multipart/form-data with a CSV file `recipients`; bad rows "
            "are skipped and counted (skipped_rows names the first ones), never a refusal",
            "201",
            CAMPAIGN,
            body=CAMPAIGN_INPUT,
            links=CAMPAIGN_LINKS,
            example={
                "name": "Spring sale",
                "from": "+12025550199",
                "body": "Hi {{ name }}, sale today",
                "recipients": ["+14155550124", {"phone": "+14155550125", "name": "Ana"}],
            },
        ),
    },
    "/campaigns/{id}": {
        "get": _op("getCampaign", "A campaign and its counts by bucket", "200", CAMPAIGN, params=[ID_PARAM])
    },
    "/campaigns/{id}/recipients": {
        "get": _op(
            "listCampaignRecipients",
            "A campaign's recipients, paged",
            "200",
            RECIPIENT_LIST,
            params=[ID_PARAM, *PAGE_PARAMS],
        )
    },
    "/campaigns/{id}/recipients.csv": {
        "get": _op(
            "campaignReport",
            "Every recipient row as CSV with a header (the report)",
            "200",
            params=[ID_PARAM],
            content_type="text/csv",
        )
    },
    **{
        f"/campaigns/{{id}}/{action}": {
            "post": _op(
                f"{action}Campaign",
                f"{action.capitalize()} a campaign",
                "200",
                CAMPAIGN,
                params=[ID_PARAM],
                errors=("409",),
            )
        }
        for action in ("pause", "resume", "cancel")
    },
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {"code": STR, "message": STR},
            }
        },
    },
    "Message": {
        "type": "object",
        "required": ["id", "status", "direction", "from", "to", "body", "date_created", "conversation_id"],
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
            "date_created": TIME,
            "date_sent": TIME,
            "date_updated": TIME,
            "error_code": INT,
            "error_message": STR,
            "media_url": {"type": "array", "items": STR},
            "conversation_id": INT,
            "encoding": {"type": "string", "enum": ["GSM-7", "UCS-2"]},
            "validity_period": INT,
            "campaign_id": INT,
        },
    },
    "Contact": {
        "type": "object",
        "required": ["phone", "name", "opted_out"],
        "properties": {
            "phone": STR,
            "name": NSTR,
            "opted_out": BOOL,
            "opted_out_at": NTIME,
            "created_at": NTIME,
            "changed": {"type": "boolean", "description": "opt-in/opt-out only: whether the state changed"},
            "consent_history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "action": STR,
                        "source": STR,
                        "at": NTIME,
                        "reason": NSTR,
                        "message": NSTR,
                    },
                },
            },
        },
    },
    "Conversation": {
        "type": "object",
        "required": ["id", "our_number", "contact", "status"],
        "properties": {
            "id": INT,
            "our_number": STR,
            "contact": CONTACT,
            "status": {"type": "string", "enum": ["open", "closed"]},
            "flagged": BOOL,
            "flag_reason": NSTR,
            "assignee_id": {"type": "integer", "nullable": True},
            "tags": {"type": "array", "items": STR},
            "unread_count": INT,
            "last_message_at": NTIME,
            "last_message_preview": NSTR,
            "created_at": NTIME,
        },
    },
    "Rule": {
        "type": "object",
        "required": ["id", "name", "patterns", "reply"],
        "properties": {
            **RULE_BODY["properties"],
            "id": INT,
            "number": NSTR,
            "disabled_reason": {**NSTR, "readOnly": True},
        },
    },
    "Campaign": {
        "type": "object",
        "required": ["id", "name", "status", "from", "counts"],
        "properties": {
            "id": INT,
            "name": STR,
            "status": {
                "type": "string",
                "enum": ["scheduled", "running", "paused", "completed", "cancelled"],
            },
            "from": {"type": "array", "items": STR},
            "body": NSTR,
            "media_url": {"type": "array", "items": STR},
            "send_at": NTIME,
            "rate_per_minute": INT,
            "created_at": NTIME,
            "updated_at": NTIME,
            "counts": {
                "type": "object",
                "description": "Every recipient row in exactly one bucket (they add up to total), "
                "plus replies",
                "properties": {b: INT for b in [*CAMPAIGN_BUCKETS, "total", "replies"]},
            },
            "skipped_rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "row": {"type": "integer", "nullable": True},
                        "phone": NSTR,
                        "status": STR,
                        "reason": NSTR,
                    },
                },
            },
        },
    },
}

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "SMS conversations API",
        "version": "v1",
        "description": "Telefonie-compatible messages, plus conversations, contacts, consent, rules and "
        "campaigns. "
        'Errors are always JSON {"error": {"code", "message"}}; codes are listed in the README.',
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"ApiKeyAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "schemas": SCHEMAS,
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(DOCUMENT)
