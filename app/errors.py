"""JSON errors: {"error": {"code": "...", "message": "..."}}."""

from __future__ import annotations

from flask import Response, jsonify


class ApiError(Exception):
    def __init__(self, status: int, code: str | int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str | int, message: str, headers: dict | None = None) -> Response:
    resp = jsonify({"error": {"code": str(code), "message": message}})
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
