"""HTTP: the seed spec's four operations under /v1/sms, plus the simulate/ controls.

Views stay thin: check the key, parse, call the sandbox, answer. Every error, including the
ones Flask raises itself (404, 405, 413), is the JSON body `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from app.sandbox import sandbox
from app.sandbox.lifecycle import REFUSED_NUMBER
from app.sandbox.validation import (
    AUTH_FAILED,
    INVALID_TO,
    NOT_FOUND,
    ApiError,
    parse_fault,
    parse_list_query,
    parse_new_message,
    read_payload,
)

SPEC_PATH = Path(__file__).with_name("telefonie-sms-openapi.yml")

bp = Blueprint("telefonie_sandbox", __name__, url_prefix="/v1/sms")


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(HTTPException, http_error)


def error_response(status: int, code: int | str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message)


def http_error(exc: HTTPException) -> Response:
    """Flask's own errors in the provider's shape, keeping headers such as `Allow` on a 405."""
    status = exc.code or 500
    response = error_response(status, status, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.before_request
def require_api_key() -> None:
    """Everything but the spec itself needs the account's key, as on the real provider."""
    if request.endpoint == "telefonie_sandbox.openapi":
        return
    given = request.headers.get("X-API-Key", "")
    if not hmac.compare_digest(given.encode(), current_app.config["API_KEY"].encode()):
        raise ApiError(401, AUTH_FAILED, "Authenticate with a valid X-API-Key header")


@bp.get("/openapi.yml")
def openapi() -> Response:
    return send_file(SPEC_PATH, mimetype="application/yaml")


@bp.get("/messages")
def list_messages() -> Response:
    filters, page, page_size = parse_list_query(request.args)
    messages, total = sandbox().store.query(filters=filters, page=page, page_size=page_size)
    return jsonify({"messages": messages, "total": total})


@bp.post("/messages")
def send_message() -> tuple[Response, int] | Response:
    """A send, unless a fault is armed; a `timeout` fault records it and answers too late."""
    new = parse_new_message(read_payload(request))
    if new.to == REFUSED_NUMBER:
        raise ApiError(400, INVALID_TO, f"The 'to' number {new.to} is not a valid phone number")
    state = sandbox()
    fault = state.faults.take_send_fault()
    if fault == "error_500":
        return error_response(500, 20500, "Internal server error (simulated)")
    if fault == "rate_limit":
        response = error_response(429, 20429, "Too many requests (simulated)")
        response.headers["Retry-After"] = "1"
        return response
    message = state.send(new)
    if fault == "timeout":
        time.sleep(float(current_app.config["TIMEOUT_DELAY"]))
    return jsonify(message), 201


@bp.get("/messages/<message_id>")
def get_message(message_id: str) -> Response:
    message = sandbox().store.get(message_id)
    if message is None:
        raise ApiError(404, NOT_FOUND, f"No message {message_id}")
    return jsonify(message)


@bp.delete("/messages/<message_id>")
def delete_message(message_id: str) -> tuple[str, int]:
    if not sandbox().store.delete(message_id):
        raise ApiError(404, NOT_FOUND, f"No message {message_id}")
    return "", 204


@bp.post("/simulate/inbound")
def simulate_inbound() -> tuple[Response, int]:
    """A handset texts one of our numbers: recorded here, then posted to the service's webhook."""
    new = parse_new_message(read_payload(request), direction="inbound")
    return jsonify(sandbox().receive(new)), 201


@bp.get("/simulate/faults")
def list_faults() -> Response:
    return jsonify({"faults": sandbox().faults.pending()})


@bp.post("/simulate/faults")
def arm_fault() -> Response:
    mode, count = parse_fault(read_payload(request))
    state = sandbox()
    state.faults.arm(mode, count)
    return jsonify({"faults": state.faults.pending()})


@bp.delete("/simulate/faults")
def clear_faults() -> tuple[str, int]:
    sandbox().faults.clear()
    return "", 204


@bp.post("/simulate/reset")
def reset() -> tuple[str, int]:
    sandbox().reset()
    return "", 204
