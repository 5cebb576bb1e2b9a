"""Blueprint /admin: the agent desk."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")

from app.admin import auth, views  # noqa: E402,F401  (routes register on bp)
