"""Sign-in and sign-out; every other admin page requires a signed-in user."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user

from app.accounts.models import User
from app.accounts.service import authenticate
from app.admin import bp
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
    if request.method == "POST":
        user = authenticate(request.form.get("email", ""), request.form.get("password", ""))
        if user is not None:
            login_user(user)
            return redirect(url_for("admin.inbox"))
        flash("Wrong email or password.")
        return render_template("admin/login.html"), 401
    return render_template("admin/login.html")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("admin.login"))
