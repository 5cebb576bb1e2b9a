"""/api/v1/campaigns (contract section 11): create (JSON or multipart with a CSV), list, read,
recipients (paged and CSV), pause, resume, cancel."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator

from flask import Response, current_app, g, jsonify, request, stream_with_context
from sqlalchemy import select

from app.api import bp
from app.api.inputs import integer, json_body, media, query_args, unknown
from app.campaigns import intake, service
from app.campaigns.models import Campaign
from app.conversations.serialize import iso
from app.errors import ApiError
from app.extensions import db

CREATE_FIELDS = ("name", "from", "body", "media_url", "recipients", "tag", "send_at", "rate_per_minute")
CSV_MAX_BYTES = 16 * 1024 * 1024
REQUEST_MAX_BYTES = 40 * 1024 * 1024
RECIPIENT_COLUMNS = ("row", "phone", "name", "status", "message_id", "from", "error_code")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"\+[0-9]{1,15}")


def campaign_json(campaign: Campaign, counts: dict | None = None) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "from": list(campaign.from_numbers or []),
        "body": campaign.body,
        "media_url": list(campaign.media_urls or []),
        "send_at": iso(campaign.send_at),
        "rate_per_minute": campaign.rate_per_minute,
        "created_at": iso(campaign.created_at),
        "updated_at": iso(campaign.updated_at),
        "counts": counts if counts is not None else service.counts(campaign.id),
        "skipped_rows": list(campaign.rejected or []),
    }


def csv_limit() -> int:
    """The CSV upload limit: app config, else the environment variable, else 16 MiB."""
    value = current_app.config.get("CAMPAIGN_CSV_MAX_BYTES") or os.environ.get("CAMPAIGN_CSV_MAX_BYTES")
    try:
        return max(1024, int(value)) if value else CSV_MAX_BYTES
    except ValueError:
        return CSV_MAX_BYTES


def _request_fields() -> tuple[dict, bytes | None]:
    """The JSON fields and the CSV file's bytes, from application/json or multipart/form-data."""
    request.max_content_length = max(REQUEST_MAX_BYTES, csv_limit() + 1024 * 1024)
    if request.mimetype == "application/json":
        return json_body(CREATE_FIELDS), None
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send application/json or multipart/form-data")
    form = request.form
    unknown(form, CREATE_FIELDS, "field")
    unknown(request.files, ("recipients",), "file")
    data: dict = {key: form.get(key) for key in ("name", "body", "send_at", "rate_per_minute", "tag")}
    senders = form.getlist("from")
    data["from"] = senders if len(senders) > 1 else (senders[0] if senders else None)
    data["media_url"] = form.getlist("media_url")
    upload = request.files.get("recipients")
    if upload is None:
        return data, None
    raw = upload.stream.read(csv_limit() + 1)
    if len(raw) > csv_limit():
        raise ApiError(400, "file_too_large", f"the CSV file 'recipients' is over {csv_limit():,} bytes")
    return data, raw


@bp.post("/campaigns")
def create_campaign():
    data, csv_bytes = _request_fields()
    # The API's own check of media URLs (RFC 3986 characters only, code 21620), as for a message
    data["media_url"] = media(data)
    try:
        campaign = intake.create(data, csv_bytes, created_by=f"api key {g.api_key.name}")
    except intake.IntakeError as exc:
        db.session.rollback()
        raise ApiError(400, exc.code, exc.message) from None
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify(campaign_json(campaign)), 201


@bp.get("/campaigns")
def list_campaigns():
    args = query_args(("page", "page_size"))
    page = integer(args.get("page"), "page", default=1, lo=1, hi=1_000_000)
    size = integer(args.get("page_size"), "page_size", default=50, lo=1, hi=100)
    total = db.session.scalar(select(db.func.count()).select_from(Campaign))
    rows = db.session.scalars(
        select(Campaign)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    return jsonify(
        {"campaigns": [campaign_json(c) for c in rows], "total": total, "page": page, "page_size": size}
    )


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int):
    return jsonify(campaign_json(_find(campaign_id)))


@bp.get("/campaigns/<int:campaign_id>/recipients")
def campaign_recipients(campaign_id: int):
    _find(campaign_id)
    args = query_args(("page", "page_size"))
    page = integer(args.get("page"), "page", default=1, lo=1, hi=1_000_000)
    size = integer(args.get("page_size"), "page_size", default=50, lo=1, hi=100)
    items, total = service.recipient_page(campaign_id, page, size)
    return jsonify({"recipients": items, "total": total, "page": page, "page_size": size})


def spreadsheet_safe(value: object) -> str:
    text = "" if value is None else str(value)
    if PLAIN_NUMBER.fullmatch(text):  # an E.164 number is not a formula; keep it machine-readable
        return text
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def recipients_csv_rows(campaign_id: int) -> Iterator[str]:
    """The report, streamed; cells a spreadsheet would run as a formula get a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RECIPIENT_COLUMNS)
    for n, item in enumerate(service.iter_recipients(campaign_id), start=1):
        writer.writerow([spreadsheet_safe(item[c]) for c in RECIPIENT_COLUMNS])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(campaign_id: int) -> Response:
    return Response(
        stream_with_context(recipients_csv_rows(campaign_id)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-recipients.csv"'},
    )


@bp.get("/campaigns/<int:campaign_id>/recipients.csv")
def campaign_recipients_csv(campaign_id: int):
    _find(campaign_id)
    return csv_response(campaign_id)


@bp.post("/campaigns/<int:campaign_id>/<any(pause, resume, cancel):action>")
def campaign_action(campaign_id: int, action: str):
    campaign = _find(campaign_id)
    try:
        service.transition(campaign, action)
    except service.InvalidTransition as exc:
        db.session.rollback()
        raise ApiError(409, "invalid_transition", str(exc)) from exc
    db.session.commit()
    return jsonify(campaign_json(campaign))


def _find(campaign_id: int) -> Campaign:
    campaign = None
    if campaign_id <= 2**31 - 1:
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None:
        raise ApiError(404, "20404", f"no campaign {campaign_id}")
    return campaign
