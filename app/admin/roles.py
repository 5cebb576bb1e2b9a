"""Roles on the desk: `admin` does everything, `agent` works threads only.

The policy lives in one place: `admin_required` for a view, and `ADMIN_ONLY` / `ADMIN_ONLY_PATHS`
checked before every admin request, so the pages of other modules (settings, rule writes, users,
campaign creation) are guarded without each module remembering to. Deactivated users are signed
out on their next request, whatever their session cookie says.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_login import current_user, logout_user

from app.admin import bp

ROLES = ("admin", "agent")

# Endpoints an agent may not use at all (any method).
ADMIN_ONLY = frozenset(
    {
        "admin.settings",
        "admin.settings_save",
        "admin.users",
        "admin.user_invite",
        "admin.user_role",
        "admin.user_active",
        "admin.rule_new",
        "admin.rule_edit",
        "admin.rule_toggle",
        "admin.rule_move",
        "admin.rule_delete",
        "admin.keyword_add",
        "admin.keyword_delete",
    }
)
# Endpoint prefixes that are admin-only too (keyword settings, API keys pages if any).
ADMIN_ONLY_PREFIXES = ("admin.settings_", "admin.api_key", "admin.user_")
# Paths, for pages other branches add: campaign creation.
ADMIN_ONLY_PATHS = ("/admin/campaigns/new",)
ADMIN_ONLY_POST_PATHS = ("/admin/campaigns", "/admin/campaigns/")


def is_admin() -> bool:
    return bool(current_user.is_authenticated and getattr(current_user, "role", "admin") == "admin")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a view to agents with 403 (apply under the route decorator)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_admin():
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def admin_only_request() -> bool:
    endpoint = request.endpoint or ""
    if endpoint in ADMIN_ONLY or endpoint.startswith(ADMIN_ONLY_PREFIXES):
        return True
    path = request.path
    if path.startswith(ADMIN_ONLY_PATHS):
        return True
    return request.method == "POST" and path in ADMIN_ONLY_POST_PATHS


@bp.before_request
def enforce_roles():
    if getattr(current_user, "active", True) is False:  # UserMixin counts it as not authenticated
        logout_user()
        if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
            return jsonify({"error": {"code": "unauthorized", "message": "this account is deactivated"}}), 401
        flash("This account is deactivated.", "error")
        return redirect(url_for("admin.login"))
    if not current_user.is_authenticated:
        return None
    if admin_only_request() and not is_admin():
        abort(403)
    return None
