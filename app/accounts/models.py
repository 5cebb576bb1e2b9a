"""Admin users, their server-side sessions and sign-in attempts; API keys and their rate windows."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # `admin` or `agent` (agents work threads but not settings, rules, users or campaigns).
    role: Mapped[str] = mapped_column(String(10), default="admin", server_default="admin")
    # A deactivated user can't sign in and their open sessions stop working (admin.roles).
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())

    @property
    def is_active(self) -> bool:  # Flask-Login refuses login_user() for inactive users
        return bool(self.active)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AdminSession(db.Model):
    """One signed-in browser. The cookie carries the token; only its SHA-256 is stored, and
    deleting the row (sign-out, expiry) ends the session even if the cookie is replayed."""

    __tablename__ = "admin_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginAttempt(db.Model):
    """Sign-in attempts per (email, client address) in a fixed window, shared by every process."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of email and address
    window_start: Mapped[int] = mapped_column(BigInteger)  # Unix seconds
    attempts: Mapped[int] = mapped_column(Integer)


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scope: Mapped[str] = mapped_column(String(10), default="write", server_default="write")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiRateWindow(db.Model):
    """Requests per API key in one fixed window (the API rate limit, shared by every process)."""

    __tablename__ = "api_rate_windows"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # Unix seconds
    hits: Mapped[int] = mapped_column(Integer)
