"""Blueprint /api/v1: JSON, authenticated with X-API-Key; errors as {"error": {"code", "message"}}."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException

from app.accounts import ratelimit
from app.accounts.keys import find_api_key, may, touch_api_key
from app.consent.guard import OptedOut
from app.errors import ApiError, error_response, handle_api_error
from app.extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi":
        return None
    key = find_api_key(request.headers.get("X-API-Key"))
    if key is None:
        return error_response(401, "20003", "a valid X-API-Key header is required")
    return limit_and_scope(key)


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
            return error_response(429, "20429", message, {"Retry-After": str(retry_after)})
    if wrote:
        db.session.commit()
    if not may(scope, request.method):
        return error_response(403, "20403", "this API key is read-only")
    return None


bp.register_error_handler(ApiError, handle_api_error)


@bp.errorhandler(OptedOut)
def opted_out(exc: OptedOut):
    return error_response(409, exc.code, str(exc))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return error_response(exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name)


from app.api import campaigns, contacts, conversations, messages, openapi, rules  # noqa: E402,F401  (routes register on bp)
