"""Blueprint /api/v1: JSON, authenticated with X-API-Key; errors as {"error": {"code", "message"}}."""

from __future__ import annotations

from flask import Blueprint, g, request
from werkzeug.exceptions import HTTPException

from app.accounts.service import find_api_key, touch_api_key
from app.consent.guard import OptedOut
from app.errors import ApiError, error_response, handle_api_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi":
        return None
    key = find_api_key(request.headers.get("X-API-Key"))
    if key is None:
        return error_response(401, "20003", "a valid X-API-Key header is required")
    touch_api_key(key)
    g.api_key = key
    return None


bp.register_error_handler(ApiError, handle_api_error)


@bp.errorhandler(OptedOut)
def opted_out(exc: OptedOut):
    return error_response(409, exc.code, str(exc))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return error_response(exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name)


from app.api import campaigns, contacts, conversations, messages, openapi, rules  # noqa: E402,F401  (routes register on bp)
