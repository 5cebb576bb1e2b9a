"""Tags: one normalisation for every place a tag is set (the desk's tag form, rule actions, the API).

A tag is trimmed (inner whitespace collapsed), compared case-folded (NFKC + casefold), and shown as
it was first written anywhere: the `tags` table keeps one label per folded key, so "Shipping"
typed after "shipping" exists becomes "shipping", and the desk's tag picker lists the labels.
Without the table every thread would keep its own spelling and `shipping, vip, Shipping` would be
three tags.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from app.dbutil import insert_ignore
from app.extensions import db

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
PICKER_LIMIT = 500


class Tag(db.Model):
    """The first spelling of each tag (by folded key): what every thread and rule shows."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    label: Mapped[str] = mapped_column(String(MAX_TAG_LENGTH))


class TagError(ValueError):
    """A tag list that cannot be kept; the message says why, for a person to read."""


def tidy(tag: str) -> str:
    """Trimmed, inner whitespace collapsed; the spelling is kept."""
    return " ".join(tag.split())


def key(tag: str) -> str:
    """What two tags are compared by: NFKC, case folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", tag).casefold()).split())


def clean(values: Iterable[str], *, limit: int = MAX_TAGS) -> list[str]:
    """Tidy, drop blanks, keep the first spelling of each key; TagError when too long or too many.

    Pure (no database): used where a rule is validated. `canonical` then maps to stored labels.
    """
    tags: list[str] = []
    seen: set[str] = set()
    for raw in values:
        if not isinstance(raw, str):
            raise TagError("a tag must be text")
        if "\x00" in raw or any(0xD800 <= ord(ch) <= 0xDFFF for ch in raw):
            raise TagError("a tag may not contain NUL or lone surrogate characters")
        tag = tidy(raw)
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise TagError(f"A tag may have at most {MAX_TAG_LENGTH} characters.")
        if key(tag) not in seen:
            seen.add(key(tag))
            tags.append(tag)
    if len(tags) > limit:
        raise TagError(f"At most {limit} tags are allowed.")
    return tags


def parse(text: str) -> list[str]:
    """A comma-separated list as typed in the desk; TagError when it cannot be kept."""
    return clean(text.split(","))


def canonical(values: Iterable[str]) -> list[str]:
    """`clean(values)` with each tag shown as first written anywhere (registering new ones).

    Two statements at most: read the known labels of these keys, insert the new ones.
    """
    tags = clean(values)
    if not tags:
        return []
    keys = {key(t): t for t in tags}
    known = _labels(list(keys))
    new = [{"key": k, "label": t} for k, t in keys.items() if k not in known]
    if new:
        db.session.execute(insert_ignore(Tag.__table__, ["key"]), new)
        known = _labels(list(keys))
    return [known.get(key(t), t) for t in tags]


def _labels(keys: list[str]) -> dict[str, str]:
    rows = db.session.execute(select(Tag.key, Tag.label).where(Tag.key.in_(keys))).all()
    return {row[0]: row[1] for row in rows}


def merge(current: Iterable[str], added: Iterable[str]) -> list[str]:
    """The thread's tags plus a rule's, each key once, the thread's spelling first (no cap)."""
    result = list(current or [])
    seen = {key(t) for t in result}
    for tag in added:
        if key(tag) not in seen:
            seen.add(key(tag))
            result.append(tag)
    return result


def known(limit: int = PICKER_LIMIT) -> list[str]:
    """Labels for the desk's tag picker, alphabetical."""
    return list(db.session.scalars(select(Tag.label).order_by(Tag.key).limit(limit)))
