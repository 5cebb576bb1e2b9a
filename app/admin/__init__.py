"""Blueprint /admin: the agent desk (server-rendered pages, a little plain JavaScript).

Every page but the sign-in page requires a signed-in user (security.require_login); every
response carries a strict Content-Security-Policy, so templates hold no inline script or style.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")

from app.admin import (  # noqa: E402,F401  (routes register on bp)
    auth,
    campaigns,
    consent_log,
    contacts,
    delivery,
    errors,
    inbox,
    input_guard,
    live,
    notes,
    overview,
    reports,
    roles,
    rules,
    sandbox_panel,
    saved_replies,
    security,
    settings,
    tag_picker,
    thread,
    thread_actions,
    users,
)
