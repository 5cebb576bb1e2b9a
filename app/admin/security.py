"""The admin's guards: sign-in required, security headers, CSRF failures.

The sign-in throttle lives in the database (app/accounts/throttle.py), shared by every process.
"""

from __future__ import annotations

from flask import Response, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.admin import bp

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' http: https: data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
OPEN_ENDPOINTS = ("admin.login", "admin.static")


@bp.before_request
def require_login() -> Response | None:
    if request.endpoint in OPEN_ENDPOINTS or current_user.is_authenticated:
        return None
    if g.pop("account_deactivated", False):  # its sessions were ended: say why, once
        session.clear()
        if wants_json():
            return jsonify({"error": {"code": "unauthorized", "message": "this account is deactivated"}}), 401
        flash("This account is deactivated.", "error")
        return redirect(url_for("admin.login"))
    if wants_json():
        return jsonify({"error": {"code": "unauthorized", "message": "sign in first"}}), 401
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("admin.login", next=safe_next(target)))


def wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def safe_next(target: str | None) -> str | None:
    """Only a path inside the admin: never another host (`//evil`, `/\\evil`) or scheme."""
    if not target:
        return None
    target = target.rstrip("?")
    if not target.startswith("/admin") or "//" in target or "\\" in target:
        return None
    return target


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError):
    return render_template(
        "admin/error.html",
        title="Form refused",
        message="This form was not sent from this page, or it expired. "
        "Go back, reload the page and try again.",
        detail=exc.description,
    ), 400
