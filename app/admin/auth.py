"""Sign-in and sign-out; every other admin page requires a signed-in user (security.require_login)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from app.accounts.models import User
from app.accounts.service import authenticate
from app.admin import bp
from app.admin.security import safe_next, throttle
from app.extensions import db, login_manager


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


login_manager.login_view = "admin.login"


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or url_for("admin.inbox"))
        return render_template("admin/login.html", next_url=next_url)
    email = request.form.get("email", "")[:254]
    ip = request.remote_addr or ""
    wait = throttle.retry_after(email, ip)
    if wait:
        minutes = max(1, round(wait / 60))
        flash(
            f"Too many failed sign-ins. Try again in about {minutes} minute{'s' if minutes > 1 else ''}.",
            "error",
        )
        page = render_template("admin/login.html", next_url=next_url, email=email)
        return page, 429, {"Retry-After": str(wait)}
    user = authenticate(email, request.form.get("password", ""))
    if user is None:
        throttle.failed(email, ip)
        flash("Wrong email or password.", "error")
        return render_template("admin/login.html", next_url=next_url, email=email), 401
    throttle.succeeded(email, ip)
    login_user(user)
    return redirect(next_url or url_for("admin.inbox"))


@bp.post("/logout")
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.login"))
