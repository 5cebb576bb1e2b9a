"""Admin pages."""

from __future__ import annotations

from flask import render_template
from flask_login import login_required

from app.admin import bp


@bp.get("/")
@login_required
def inbox():
    return render_template("admin/inbox.html")
