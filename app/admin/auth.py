"""Sign-in and sign-out; every other admin page requires a signed-in user (security.require_login).

A signed-in browser is a row in `admin_sessions` (accounts/sessions.py): the cookie carries its
token, the user loader checks the row, sign-out deletes it. Sign-in starts from an empty session
with a new token (rotation), after the shared throttle has counted the attempt.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.accounts import sessions, throttle
from app.accounts.models import User
from app.accounts.service import authenticate, dummy_hash
from app.admin import bp
from app.admin.security import safe_next
from app.extensions import db, login_manager

SESSION_TOKEN = "sid"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    token = session.get(SESSION_TOKEN)
    user = sessions.user_for(token, uid)
    if user is None and token:
        # Deactivation ends the user's sessions (admin.users); a browser still signed in as them
        # (its signed cookie names the user) is told why it was signed out (security.require_login).
        ended_for = db.session.get(User, uid)
        g.account_deactivated = ended_for is not None and not ended_for.active
    return user


login_manager.login_view = "admin.login"


def session_lifetime() -> timedelta:
    return timedelta(seconds=int(current_app.config["SESSION_LIFETIME"]))


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or url_for("admin.inbox"))
        dummy_hash()  # made before the first POST, so every failed sign-in costs the same
        return render_template("admin/login.html", next_url=next_url)
    email = request.form.get("email", "")[:254]
    ip = request.remote_addr or ""
    wait = throttle.attempt(email, ip)  # counted before the password is checked
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
        flash("Wrong email or password.", "error")
        return render_template("admin/login.html", next_url=next_url, email=email), 401
    throttle.clear(email, ip)
    sessions.end(session.get(SESSION_TOKEN))  # this browser's earlier session, if any
    token = sessions.start(user, session_lifetime())
    db.session.commit()
    session.clear()  # rotation: nothing of the anonymous session survives
    session.permanent = True
    session[SESSION_TOKEN] = token
    login_user(user)
    return redirect(next_url or url_for("admin.inbox"))


@bp.post("/logout")
def logout():
    sessions.end(session.get(SESSION_TOKEN))
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.login"))
