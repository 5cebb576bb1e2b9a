"""/admin/users (admins only, see roles.py): invite, set the role, deactivate and reactivate.

An invitation creates the account with a random password shown once on the answer page (never
flashed: the flash would sit in the signed but readable session cookie). The admin passes it on;
the desk keeps no copy. The last active admin can be neither demoted nor deactivated, so the desk
can never lock itself out.
"""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from app.accounts import sessions
from app.accounts.models import User
from app.accounts.service import create_user
from app.admin import bp, live
from app.admin.roles import ROLES
from app.extensions import db


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.email)))


def active_admins() -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True))
        )
        or 0
    )


def page(status: int = 200, **extra):
    return render_template("admin/users.html", users=all_users(), roles=ROLES, **extra), status


def find_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users")
def users():
    return page()


@bp.post("/users")
def user_invite():
    email = request.form.get("email", "").strip()[:300]
    name = " ".join(request.form.get("name", "").split())[:200] or None
    role = request.form.get("role", "agent")
    if role not in ROLES:
        return page(400, error="Choose the role admin or agent.", form=request.form)
    if "\x00" in email or (name and "\x00" in name):
        return page(400, error="The email or name holds a character that is not allowed.", form=request.form)
    password = secrets.token_urlsafe(12)
    try:
        user = create_user(email, password, name)
    except ValueError as exc:
        db.session.rollback()
        return page(400, error=f"Not invited: {exc}.", form=request.form)
    user.role = role
    db.session.commit()
    return page(201, invited={"email": user.email, "password": password, "role": role})


@bp.post("/users/<int:user_id>/role")
def user_role(user_id: int):
    user = find_user(user_id)
    role = request.form.get("role", "")
    if role not in ROLES:
        flash("Choose the role admin or agent.", "error")
        return redirect(url_for("admin.users"))
    if user.role == "admin" and role != "admin" and user.active and active_admins() <= 1:
        flash("This is the last active admin: make someone else admin first.", "error")
        return redirect(url_for("admin.users"))
    user.role = role
    db.session.commit()
    flash(f"{user.email} is now {'an admin' if role == 'admin' else 'an agent'}.", "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int):
    user = find_user(user_id)
    active = request.form.get("active") == "1"
    if not active and user.id == current_user.id:
        flash("You can't deactivate yourself.", "error")
        return redirect(url_for("admin.users"))
    if not active and user.role == "admin" and user.active and active_admins() <= 1:
        flash("This is the last active admin: make someone else admin first.", "error")
        return redirect(url_for("admin.users"))
    user.active = active
    if not active:
        sessions.end_all(user.id)
        live.notify_user_ended(user.id)
    db.session.commit()
    flash(f"{user.email} is {'active again' if active else 'deactivated: their sessions end now'}.", "info")
    return redirect(url_for("admin.users"))
