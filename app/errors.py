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
