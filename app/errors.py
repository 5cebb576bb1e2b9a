"""JSON errors: {"error": {"code": "...", "message": "..."}}, one code scheme for /api/v1.

Codes are Twilio's numeric codes (as strings) wherever Twilio defines one for the situation, so a
client written for Twilio or Telefonie reads them unchanged; the few situations Twilio has no code
for use one lower-case word each. Every situation has exactly one code, whatever route it comes
from: the README lists them. Words that older code (or another module) still raises for a
situation Twilio does have a number for are mapped here, so the scheme holds in one place.
"""

from __future__ import annotations

from flask import Response, jsonify

# Twilio's codes.
UNKNOWN_PARAMETER = "20001"  # an unknown JSON field or query parameter
UNAUTHENTICATED = "20003"  # missing or wrong X-API-Key
FORBIDDEN = "20403"  # a read-only API key asked to change something
NOT_FOUND = "20404"  # no such resource (unknown id, unknown route)
TOO_MANY_REQUESTS = "20429"
INTERNAL_ERROR = "20500"
UNAVAILABLE = "20503"  # the database is unavailable: retry after Retry-After
INVALID_NUMBER = "21211"  # a phone number that is not E.164 ('to', contacts, recipients)
INVALID_FROM = "21212"  # 'from' is not an E.164 number
BODY_REQUIRED = "21602"  # no body and no media, or a blank body
INVALID_CALLBACK = "21609"  # status_callback is not an http(s) URL
OPTED_OUT = "21610"  # the recipient has opted out
BODY_TOO_LONG = "21617"  # over 10 segments (or over the character cap)
INVALID_MEDIA = "21620"  # media_url is not a list of up to 10 http(s) URLs

# Situations Twilio has no code for.
INVALID_JSON = "invalid_json"  # not a JSON object, NaN/Infinity, lone surrogates, NUL, too deep
INVALID_FIELD = "invalid_field"  # a known field or parameter with a bad value
MISSING_FIELD = "missing_field"
INVALID_RULE = "invalid_rule"
INVALID_TRANSITION = "invalid_transition"  # e.g. resuming a running campaign
CONFLICT = "conflict"
METHOD_NOT_ALLOWED = "method_not_allowed"
PAYLOAD_TOO_LARGE = "payload_too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"

# Older spellings of situations that have a Twilio code.
ALIASES = {"not_found": NOT_FOUND, "invalid_cursor": INVALID_FIELD, "unknown_field": UNKNOWN_PARAMETER}

# The code of an HTTP error raised by Flask or Werkzeug (routing, body size, ...).
BY_STATUS = {
    400: INVALID_FIELD,
    401: UNAUTHENTICATED,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: CONFLICT,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    429: TOO_MANY_REQUESTS,
    503: UNAVAILABLE,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str | int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str | int, message: str, headers: dict | None = None) -> Response:
    code = ALIASES.get(str(code), str(code))
    resp = jsonify({"error": {"code": code, "message": message}})
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def handle_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def storage_unavailable(exc: Exception) -> Response:
    """The database is gone for a moment (restart, failover, pool exhausted): 503 with
    Retry-After instead of a 500. The pool has already dropped the dead connection, so the next
    request reconnects by itself."""
    from flask import current_app

    from app.extensions import db

    db.session.rollback()
    current_app.logger.warning("storage unavailable: %s", exc.__class__.__name__)
    return error_response(503, "storage_unavailable", "storage is unavailable; retry later",
                          {"Retry-After": "5"})


def register_storage_errors(app) -> None:
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    for exc_type in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(exc_type, storage_unavailable)

    @app.teardown_appcontext
    def end_session_quietly(_exc) -> None:
        """End the request's session before Flask-SQLAlchemy does (teardowns run in reverse order of
        registration). Its close rolls back what is left; on a connection the database closed in
        the meantime (a restart, a terminated backend) that ROLLBACK fails, after the answer was
        made, and the failure would escape every error handler as a 500 (the suite under load
        caught one). Nothing is lost by swallowing it: that connection has no transaction left,
        and SQLAlchemy has already invalidated it, so the pool will not hand it out again."""
        from flask import current_app

        from app.extensions import db

        try:
            db.session.remove()
        except (OperationalError, InterfaceError) as exc:
            current_app.logger.warning("ending a session on a lost connection: %s", exc.__class__.__name__)
            try:
                db.session.remove()
            except (OperationalError, InterfaceError):
                db.session.registry.clear()
