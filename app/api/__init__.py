"""Blueprint /api/v1: JSON, authenticated with X-API-Key; errors as {"error": {"code", "message"}}.

Every answer under /api/v1 is JSON, whatever goes wrong: routing errors (unknown path, wrong
method) are turned into JSON before any view runs, since Flask only routes blueprint error
handlers once a route matched; a database that is away is a 503 with Retry-After, so a client
retries instead of seeing a 500.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from app import errors
from app.accounts import ratelimit
from app.accounts.keys import find_api_key, may, touch_api_key
from app.consent.guard import OptedOut
from app.errors import ApiError, error_response, handle_api_error
from app.extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PREFIX = "/api/v1"
RETRY_AFTER = "5"
# Operations that take no query parameters: any given is a mistake worth a 400 naming it. (The
# list operations check their own parameters with inputs.query_args.)
NO_QUERY = frozenset(
    f"api.{name}"
    for name in (
        "send_message get_message delete_message get_conversation reply get_contact opt_out opt_in "
        "list_rules create_rule get_rule update_rule delete_rule test_rule "
        "create_campaign get_campaign campaign_action campaign_recipients_csv"
    ).split()
)


@bp.before_app_request
def routing_errors():
    """Unknown paths and methods under /api/v1 answer JSON like every other error."""
    exc = request.routing_exception
    if exc is None or isinstance(exc, RequestRedirect):
        return None
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        return http_error(exc)
    return None


@bp.url_value_preprocessor
def ids_in_range(_endpoint: str | None, values: dict | None) -> None:
    """An id no INTEGER column can hold names nothing: 404, before any query could fail on it."""
    for name, value in (values or {}).items():
        if name.endswith("_id") and isinstance(value, int) and not 0 < value <= MAX_ID:
            raise ApiError(404, errors.NOT_FOUND, f"no such {name.removesuffix('_id')}")


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi":
        return None
    key = find_api_key(request.headers.get("X-API-Key"))
    if key is None:
        return error_response(401, errors.UNAUTHENTICATED, "a valid X-API-Key header is required")
    refused = limit_and_scope(key)
    if refused is not None:
        return refused
    if request.endpoint in NO_QUERY and request.args:
        query_args(())
    return None


def limit_and_scope(key):
    """The key's rate limit (counted and committed before the view runs, so no lock is held while
    it works), its last use (once a minute), then its scope."""
    key_id, scope = key.id, key.scope
    g.api_key = key
    rule = ratelimit.parse(current_app.config.get("API_RATE_LIMIT"))
    wrote = touch_api_key(key)
    if rule is not None:
        hits, retry_after = ratelimit.hit(key_id, rule)
        wrote = True
        if hits > rule[0]:
            db.session.commit()
            message = f"rate limit of {rule[0]} requests per {rule[1]} s for this key exceeded"
            return error_response(429, errors.TOO_MANY_REQUESTS, message, {"Retry-After": str(retry_after)})
    if wrote:
        db.session.commit()
    if not may(scope, request.method):
        return error_response(403, errors.FORBIDDEN, "this API key is read-only")
    return None


bp.register_error_handler(ApiError, handle_api_error)


@bp.errorhandler(OptedOut)
def opted_out(exc: OptedOut):
    return error_response(409, exc.code, str(exc))


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
@bp.errorhandler(PoolTimeout)
def database_unavailable(exc: Exception):
    """The database is away (connection refused, restart, pool exhausted): retry later."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the session is discarded anyway
        db.session.remove()
    current_app.logger.warning("api: database unavailable: %s", exc.__class__.__name__)
    return error_response(
        503, errors.UNAVAILABLE, "the database is unavailable; retry later", {"Retry-After": RETRY_AFTER}
    )


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    status = exc.code or 500
    if isinstance(exc, InternalServerError):
        original = getattr(exc, "original_exception", None)
        if isinstance(original, OperationalError | InterfaceError | PoolTimeout):
            return database_unavailable(original)
        return error_response(500, errors.INTERNAL_ERROR, "internal error")
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        message = f"{request.method} is not allowed here; use {headers['Allow']}"
    elif status == 404:
        message = f"no resource at {request.path[:200]!r}"
    else:
        message = exc.description or exc.name
    return error_response(status, errors.BY_STATUS.get(status, str(status)), message, headers)


from app.api import campaigns, contacts, conversations, messages, openapi, rules  # noqa: E402,F401  (routes register on bp)
from app.api.inputs import MAX_ID, query_args  # noqa: E402
