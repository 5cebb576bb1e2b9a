"""A campaign body is a template in the rule replies' sandbox (app.rules.templates).

Variables: `name`, `phone` and `fields.<column>`; anything missing renders empty. The body is
rendered for every recipient when the campaign is created (so a template that fails or grows
past 10 segments for one of them refuses the campaign before anything is stored) and again when
the recipient's message is queued.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.campaigns.audience import Row
from app.rules.templates import ReplyTemplateError, compile_reply, render_reply
from app.telefonie import segments


class BodyError(ValueError):
    """The body does not compile, fails to render or is too long for a recipient; `code` for the API."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def context(phone: str, name: str | None, fields: dict | None) -> dict:
    data: dict = {"phone": phone, "fields": dict(fields or {})}
    if name:
        data["name"] = name
    return data


def render(body: str, phone: str, name: str | None, fields: dict | None) -> str:
    if not body:
        return ""
    if "{" not in body:
        return body
    return render_reply(body, context(phone, name, fields))


def check(body: str, rows: Iterable[Row]) -> None:
    """BodyError for a body that does not compile, or renders badly or too long for some row."""
    if not body:
        return
    try:
        compile_reply(body)
    except ReplyTemplateError as exc:
        raise BodyError("invalid_template", f"'body' is not a valid template: {exc}") from None
    seen: set[str] = set()
    for row in rows:
        try:
            text = render(body, row.phone, row.name, row.fields)
        except ReplyTemplateError as exc:
            raise BodyError(
                "invalid_template", f"'body' cannot be rendered for row {row.row}: {exc}"
            ) from None
        if text in seen:
            continue
        seen.add(text)
        info = segments.analyze(text)
        if info.num_segments > segments.MAX_SEGMENTS:
            raise BodyError(
                "21617",
                f"'body' renders to {info.num_segments} segments for row {row.row} ({row.phone}); "
                f"the limit is {segments.MAX_SEGMENTS}",
            )
        if len(seen) > 20_000:
            seen.clear()
