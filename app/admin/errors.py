"""Styled error pages for the desk: 400, 403, 404, 405 and 500 under /admin, with the navigation.

Registered app-wide (blueprint handlers never see a URL that matched no route, such as
/admin/no-such-page), but they act only on /admin paths: for any other path the handler that was
registered before this blueprint (if any) answers, else Flask's default. Under /admin a request for
JSON (the pages' polling) gets the JSON error shape instead of a page.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, default_exceptions

from app.admin import bp
from app.admin.security import security_headers, wants_json

PAGES = {
    400: ("bad_request", "Not understood", "The request could not be read."),
    403: ("forbidden", "Not allowed", "Your account may not open this page."),
    404: (
        "not_found",
        "Not found",
        "There is nothing at this address: the thread, rule or contact may have been deleted.",
    ),
    405: ("method_not_allowed", "Not allowed here", "This address does not take that kind of request."),
    500: (
        "server_error",
        "Something went wrong",
        "The desk hit an error; it has been logged. Try again in a moment.",
    ),
}


def is_desk_request() -> bool:
    return request.path == "/admin" or request.path.startswith("/admin/")


def desk_error(exc: HTTPException) -> Response | HTTPException:
    status = exc.code or 500
    if not is_desk_request():
        previous = current_app.extensions.get("desk_error_fallbacks", {}).get(status)
        return previous(exc) if previous is not None else exc
    code, title, message = PAGES.get(status, PAGES[500])
    if status == 400 and exc.description and exc.description != type(exc).description:
        message = exc.description  # the input guard's reason, e.g. NUL in a form field
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message}})
    else:
        response = Response(render_template("admin/error.html", title=title, message=message, detail=None))
    response.status_code = status
    if request.blueprint != bp.name:  # the blueprint's own after_request did not run
        security_headers(response)
    return response


@bp.record_once
def register(state) -> None:
    """App-wide handlers for PAGES' codes, remembering the ones they replace (see the module doc)."""
    app: Flask = state.app
    fallbacks = app.extensions.setdefault("desk_error_fallbacks", {})
    for status in PAGES:
        fallbacks[status] = app.error_handler_spec[None][status].get(default_exceptions[status])
        app.register_error_handler(status, desk_error)
