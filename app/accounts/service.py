"""Admin users (hashed passwords) and, re-exported from keys.py, API keys."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.keys import (  # noqa: F401  (the accounts API in one place)
    KEY_PREFIX,
    create_api_key,
    find_api_key,
    list_api_keys,
    revoke_api_key,
    touch_api_key,
)
from app.accounts.models import User
from app.extensions import db


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


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash made once per process, with the same method and cost as real ones."""
    return generate_password_hash("not a password of anyone")


def authenticate(email: str, password: str) -> User | None:
    """The user, or None. Exactly one password hash is computed whether or not the email exists,
    so the answer's timing does not tell which addresses have accounts."""
    email = (email or "").strip().lower()[:254]
    user = None if "\x00" in email else db.session.scalar(select(User).where(User.email == email))
    if user is None:
        check_password_hash(dummy_hash(), password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user if user.active else None  # a deactivated user can't sign in
