"""Settings editable in the admin (brand, consent texts, loop guard, quiet hours), stored in the database."""

from __future__ import annotations

import time

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from app import cachebus
from app.extensions import db

DEFAULTS: dict[str, str] = {
    "brand": "Acme Support",
    "support_contact": "support@example.com",
    "help_text": ("{brand}: help at {contact}. Msg&data rates may apply. Reply STOP to cancel."),
    "stop_text": (
        "{brand}: you are unsubscribed and will receive no more messages. Reply START to opt back in."
    ),
    "start_text": "{brand}: you are subscribed again. Reply HELP for help, STOP to cancel.",
    "loop_guard_max": "3",
    "loop_guard_minutes": "10",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
    "campaign_rate_per_minute": "60",
}


class Setting(db.Model):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


CACHE_SECONDS = 5.0  # without a live change listener (SQLite); see app/cachebus.py
_cache: dict = {"at": 0.0, "values": None, "gen": -1}


def get_all(fresh: bool = False) -> dict[str, str]:
    """Defaults overlaid with the stored values; cached per process (hot path) until a change is
    announced (app/cachebus.py), or a few seconds when no listener is live."""
    now = time.monotonic()
    max_age = cachebus.max_age(CACHE_SECONDS)
    stale = _cache["gen"] != cachebus.generation("settings") or now - _cache["at"] > max_age
    if fresh or _cache["values"] is None or stale:
        gen = cachebus.generation("settings")  # taken before reading: a change meanwhile reloads
        values = dict(DEFAULTS)
        for row in db.session.scalars(select(Setting)):
            values[row.key] = row.value
        _cache.update(at=now, values=values, gen=gen)
    return dict(_cache["values"])


def invalidate_cache() -> None:
    _cache["values"] = None


def get(key: str) -> str:
    row = db.session.get(Setting, key)
    return row.value if row is not None else DEFAULTS[key]


def put(key: str, value: str) -> None:
    if key not in DEFAULTS:
        raise KeyError(key)
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    invalidate_cache()


def render(key: str, values: dict[str, str] | None = None) -> str:
    """A consent text with {brand} and {contact} filled in."""
    values = values or get_all()
    return values[key].replace("{brand}", values["brand"]).replace("{contact}", values["support_contact"])
