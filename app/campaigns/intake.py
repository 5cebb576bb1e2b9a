"""One campaign request, from the API (JSON or multipart), the desk's form or the CLI, checked whole.

Every refusal is an `IntakeError` (the API answers 400 with its code and message) raised before
anything is written, so a refused campaign leaves nothing behind. Bad rows of the audience are
not refusals: they are kept and counted (audience.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app import errors, settings
from app.campaigns import audience as audiences
from app.campaigns import render, senders, service
from app.campaigns.models import Campaign
from app.telefonie.numbers import InvalidNumber, normalize_e164
from app.telefonie.schema import PayloadError, media_urls
from app.types import utcnow

MAX_SENDERS = 100
MAX_BODY = 1600
PAST_TOLERANCE = timedelta(minutes=1)


class IntakeError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _text(value: object, name: str, max_len: int, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise IntakeError("missing_field", f"'{name}' is required")
        return ""
    if not isinstance(value, str):
        raise IntakeError("invalid_field", f"'{name}' must be a string")
    if len(value) > max_len:
        raise IntakeError("invalid_field", f"'{name}' is longer than {max_len} characters")
    if "\x00" in value:
        raise IntakeError("invalid_field", f"'{name}' contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise IntakeError("invalid_field", f"'{name}' is not valid Unicode (a lone surrogate?)") from None
    return value


def parse_senders(value: object) -> list[str]:
    """`from`: one E.164 number, a list of them, or (forms) a comma-separated text."""
    if isinstance(value, str) and "," in value:
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    items = value if isinstance(value, list) else [value]
    if not items or value in (None, ""):
        raise IntakeError("missing_field", "'from' is required: one of our numbers or a list of them")
    if len(items) > MAX_SENDERS:
        raise IntakeError("invalid_field", f"'from' lists more than {MAX_SENDERS} numbers")
    pool: list[str] = []
    for index, item in enumerate(items):
        label = "from" if len(items) == 1 else f"from[{index}]"
        try:
            number = normalize_e164(item, label)
        except InvalidNumber as exc:
            raise IntakeError("21211", f"unknown sender: {exc}") from None
        if number not in pool:
            pool.append(number)
    return pool


def parse_send_at(value: object, now: datetime) -> datetime:
    if value in (None, ""):
        return now
    if not isinstance(value, str) or len(value) > 64:
        raise IntakeError("invalid_field", "'send_at' must be an ISO 8601 date and time")
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise IntakeError(
            "invalid_field", f"'send_at' is not an ISO 8601 date and time: {value[:40]!r}"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # no offset given: UTC
    if at < now - PAST_TOLERANCE:
        raise IntakeError("invalid_field", f"'send_at' is in the past ({at.isoformat()})")
    return at.astimezone(UTC)


def parse_rate(value: object) -> int:
    default = int(settings.get_all().get("campaign_rate_per_minute") or 60)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        raise IntakeError("invalid_field", "'rate_per_minute' must be an integer")
    try:
        rate = int(value)
    except (TypeError, ValueError):
        raise IntakeError("invalid_field", "'rate_per_minute' must be an integer") from None
    if not 1 <= rate <= 6000:
        raise IntakeError("invalid_field", "'rate_per_minute' must be between 1 and 6000")
    return rate


def read_audience(data: dict, csv_bytes: bytes | None) -> audiences.Audience:
    sources = [s for s in ("recipients", "tag") if data.get(s) not in (None, "")]
    if csv_bytes is not None:
        sources.append("csv")
    if len(sources) != 1:
        raise IntakeError(
            "missing_field" if not sources else "invalid_field",
            "give exactly one audience: 'recipients' (a list or a CSV file) or 'tag'",
        )
    try:
        if csv_bytes is not None:
            rows = audiences.from_csv(csv_bytes)
        elif "tag" in sources:
            rows = audiences.from_tag(data["tag"])
        else:
            rows = audiences.from_json(data["recipients"])
        return audiences.classify(rows, audiences.opted_out_phones())
    except audiences.AudienceError as exc:
        raise IntakeError("invalid_recipients", str(exc)) from None


def create(data: dict, csv_bytes: bytes | None = None, created_by: str | None = None) -> Campaign:
    """Check everything, then store the campaign; the caller commits (or rolls back)."""
    now = utcnow()
    name = _text(data.get("name"), "name", 200, required=True).strip()
    if not name:
        raise IntakeError("missing_field", "'name' is required")
    pool = parse_senders(data.get("from"))
    if isinstance(data.get("body"), str) and len(data["body"]) > MAX_BODY:
        # One code for every too-long body, as for a message (app/api/inputs.message_body): over
        # the character cap here, over the segment limit for some recipient in render.check.
        raise IntakeError(errors.BODY_TOO_LONG, f"'body' is longer than {MAX_BODY} characters")
    body = _text(data.get("body"), "body", MAX_BODY)
    try:  # absent, null, "" or [] is no media; any other value must be URLs ({} and 0 too)
        media = media_urls(data.get("media_url"))
    except PayloadError as exc:
        raise IntakeError(errors.INVALID_MEDIA, str(exc)) from None
    if not body.strip() and not media:
        raise IntakeError("21602", "'body' or 'media_url' is required")
    send_at = parse_send_at(data.get("send_at"), now)
    rate = parse_rate(data.get("rate_per_minute"))
    audience = read_audience(data, csv_bytes)
    try:
        render.check(body, audience.deliverable)
    except render.BodyError as exc:
        raise IntakeError(exc.code, str(exc)) from None
    senders.assign(pool, audience.rows)
    return service.create(
        name=name,
        from_numbers=pool,
        body=body,
        media_urls=media,
        audience=audience,
        rate_per_minute=rate,
        send_at=send_at,
        created_by=created_by,
    )
