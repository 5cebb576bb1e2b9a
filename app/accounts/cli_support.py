"""Formatting and parsing for the `api-keys` commands (kept out of app/cli.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.accounts.keys import list_api_keys, state
from app.types import utcnow

COLUMNS = ("NAME", "PREFIX", "CREATED", "LAST USED", "SCOPE", "EXPIRES", "STATE")


def expiry(in_days: int | None, on_date: datetime | None) -> datetime | None:
    """--expires-in-days N or --expires YYYY-MM-DD (00:00 UTC that day), not both."""
    if in_days is not None and on_date is not None:
        raise ValueError("give --expires-in-days or --expires, not both")
    if in_days is not None:
        return utcnow() + timedelta(days=in_days)
    if on_date is not None:
        return on_date.replace(tzinfo=UTC)
    return None


def _when(value: datetime | None, empty: str) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else empty


def key_table() -> str:
    rows = [
        (
            row.name,
            row.prefix + "…",
            _when(row.created_at, "-"),
            _when(row.last_used_at, "never"),
            row.scope,
            _when(row.expires_at, "never"),
            state(row),
        )
        for row in list_api_keys()
    ]
    if not rows:
        return "No API keys. Create one: flask --app wsgi api-keys create NAME"
    widths = [max(len(str(r[i])) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    table = [COLUMNS, *rows]
    lines = ("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in table)
    return "\n".join(line.rstrip() for line in lines)
