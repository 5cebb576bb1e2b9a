"""Server-side admin sessions: the signed cookie holds a random token, the table its SHA-256.

Flask's cookie session alone cannot be ended: a copy of the cookie stays valid until it expires.
With a row per signed-in browser, sign-out deletes the row and a replayed cookie finds nothing;
each sign-in makes a new token (session rotation).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from app.accounts.models import AdminSession, User
from app.extensions import db
from app.types import utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(user: User, lifetime: timedelta) -> str:
    """A new session for `user`; returns the token for the cookie. The caller commits."""
    now = utcnow()
    db.session.execute(delete(AdminSession).where(AdminSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    db.session.add(AdminSession(token_hash=_digest(token), user_id=user.id, expires_at=now + lifetime))
    return token


def user_for(token: str | None, user_id: int) -> User | None:
    """The user of a live session, or None when it was ended, expired or belongs to another user."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    return db.session.scalar(
        select(User)
        .join(AdminSession, AdminSession.user_id == User.id)
        .where(
            AdminSession.token_hash == _digest(token),
            AdminSession.user_id == user_id,
            AdminSession.expires_at > utcnow(),
        )
    )


def end(token: str | None) -> None:
    """End one session (sign-out). The caller commits."""
    if token and isinstance(token, str):
        db.session.execute(delete(AdminSession).where(AdminSession.token_hash == _digest(token)))


def end_all(user_id: int) -> None:
    """End every session of a user (a password change, a removed agent). The caller commits."""
    db.session.execute(delete(AdminSession).where(AdminSession.user_id == user_id))
