"""API keys (shown once, stored as SHA-256) and admin users (hashed passwords)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import ApiKey, User
from app.extensions import db
from app.types import utcnow

KEY_PREFIX = "sk_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_key(name: str) -> tuple[ApiKey, str]:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("the key's name must be 1 to 100 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:10], key_hash=_digest(key), revoked=False)
    db.session.add(row)
    db.session.flush()
    return row, key


def find_api_key(key: str | None) -> ApiKey | None:
    if not key or len(key) > 200:
        return None
    row = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(key)))
    if row is None or row.revoked:
        return None
    return row


def touch_api_key(row: ApiKey) -> None:
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now


def create_user(email: str, password: str, name: str | None = None) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValueError("a valid email address is required")
    if len(password) < 8:
        raise ValueError("the password must be at least 8 characters")
    if db.session.scalar(select(User).where(User.email == email)) is not None:
        raise ValueError(f"a user {email} exists already")
    user = User(email=email, password_hash=generate_password_hash(password), name=name)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        check_password_hash(generate_password_hash("x"), password or "")  # same work either way
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user if user.active else None  # a deactivated user can't sign in
