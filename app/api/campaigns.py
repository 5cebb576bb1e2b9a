"""/api/v1/campaigns: create a campaign, read it with its counts, pause, resume, cancel."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from app import settings
from app.api import bp
from app.api.inputs import integer, json_body, media, message_body, number, text
from app.campaigns import service
from app.campaigns.models import Campaign
from app.conversations.serialize import iso
from app.errors import ApiError
from app.extensions import db
from app.telefonie import segments
from app.telefonie.numbers import InvalidNumber, normalize_e164

MAX_RECIPIENTS = 10_000
CREATE_FIELDS = ("name", "from", "body", "media_url", "recipients", "rate_per_minute")


def campaign_json(campaign: Campaign) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "from": campaign.from_number,
        "body": campaign.body,
        "media_url": list(campaign.media_urls or []),
        "rate_per_minute": campaign.rate_per_minute,
        "created_at": iso(campaign.created_at),
        "updated_at": iso(campaign.updated_at),
        "counts": service.counts(campaign),
    }


def _recipients(data: dict) -> list[str]:
    value = data.get("recipients")
    if not isinstance(value, list) or not value:
        raise ApiError(400, "invalid_field", "'recipients' must be a non-empty list of E.164 numbers")
    if len(value) > MAX_RECIPIENTS:
        raise ApiError(400, "invalid_field", f"'recipients' has more than {MAX_RECIPIENTS} numbers")
    phones = []
    for index, item in enumerate(value):
        try:
            phones.append(normalize_e164(item, f"recipients[{index}]"))
        except InvalidNumber as exc:
            raise ApiError(400, "21211", str(exc)) from exc
    return list(dict.fromkeys(phones))


@bp.post("/campaigns")
def create_campaign():
    data = json_body(CREATE_FIELDS)
    name = (text(data, "name", max_len=200, required=True) or "").strip()
    if not name:
        raise ApiError(400, "missing_field", "'name' is required")
    from_ = number(data, "from")
    media_urls = media(data)
    body = message_body(data, bool(media_urls))
    info = segments.analyze(body)
    if info.num_segments > segments.MAX_SEGMENTS:
        raise ApiError(
            400, "21617", f"'body' is {info.num_segments} segments long; the limit is {segments.MAX_SEGMENTS}"
        )
    recipients = _recipients(data)
    default_rate = int(settings.get_all().get("campaign_rate_per_minute") or 60)
    rate = integer(data.get("rate_per_minute"), "rate_per_minute", default=default_rate, lo=1, hi=6000)
    campaign = service.create(name, from_, body, media_urls, recipients, rate)
    db.session.commit()
    return jsonify(campaign_json(campaign)), 201


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int):
    return jsonify(campaign_json(_find(campaign_id)))


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
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None:
        raise ApiError(404, "20404", f"no campaign {campaign_id}")
    return campaign
