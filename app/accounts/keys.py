"""API keys: shown once, stored as SHA-256; named, scoped (`read` or `write`), optionally expiring,
revocable at once (every request looks its key up, so a revoked or expired key answers 401)."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.accounts.models import ApiKey
from app.extensions import db
from app.types import utcnow

KEY_PREFIX = "sk_"
SCOPES = ("write", "read")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAST_USED_EVERY = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("the key's name must be 1 to 100 characters")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Cf") for c in name):
        raise ValueError("the key's name must not contain control or invalid characters")
    return name


def create_api_key(
    name: str, scope: str = "write", expires_at: datetime | None = None, unique: bool = False
) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once. Names are unique among usable keys, so that
    `api-keys revoke NAME` means one thing. With `unique`, a short random suffix is added to the
    name (`my-script-3f9a1c`), so a command that creates a key can be run again (the quick start)."""
    name = _clean_name(name)
    if scope not in SCOPES:
        raise ValueError(f"the scope must be one of {', '.join(SCOPES)}")
    if expires_at is not None and expires_at <= utcnow():
        raise ValueError("the expiry must be in the future")
    if unique:
        stem = name[: 100 - 7]
        name = f"{stem}-{secrets.token_hex(3)}"
        while _taken(name):
            name = f"{stem}-{secrets.token_hex(3)}"
    elif _taken(name):
        raise ValueError(f"an active key named {name!r} exists already (revoke it first)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name, prefix=key[:10], key_hash=_digest(key), revoked=False, scope=scope, expires_at=expires_at
    )
    db.session.add(row)
    db.session.flush()
    return row, key


def _taken(name: str) -> bool:
    return any(
        state(row) == "active" for row in db.session.scalars(select(ApiKey).where(ApiKey.name == name))
    )


def state(row: ApiKey) -> str:
    if row.revoked:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= utcnow():
        return "expired"
    return "active"


def find_api_key(key: str | None) -> ApiKey | None:
    """The usable key for a presented value, or None (unknown, revoked or expired)."""
    if not key or len(key) > 200:
        return None
    row = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(key)))
    if row is None or state(row) != "active":
        return None
    return row


def may(scope: str, method: str) -> bool:
    """Read-only keys may only read; every other method changes something."""
    return scope == "write" or method.upper() in READ_METHODS


def touch_api_key(row: ApiKey) -> bool:
    """Record use at most once a minute (a conditional UPDATE, so most requests write nothing).
    Returns whether a write was made; the caller commits."""
    now = utcnow()
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_EVERY:
        return False
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == row.id)
        .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - LAST_USED_EVERY))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return True


def list_api_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_api_key(name: str) -> int:
    """Revoke every usable key with that name; returns how many. The caller commits."""
    try:
        name = _clean_name(name)
    except ValueError:  # no key can have such a name (NUL, control characters, too long)
        return 0
    rows = [r for r in db.session.scalars(select(ApiKey).where(ApiKey.name == name)) if state(r) == "active"]
    now = utcnow()
    for row in rows:
        row.revoked = True
        row.revoked_at = now
    return len(rows)
