"""Campaign pages: the list with progress, the new-campaign form (with a live preview), and one
campaign's page (progress, counts by bucket, errors by code, pause / resume / cancel, report CSV)."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.admin import bp
from app.api.campaigns import csv_limit, csv_response
from app.campaigns import intake, preview, service
from app.campaigns.models import BUCKETS, FINISHED, Campaign
from app.conversations.serialize import iso
from app.extensions import db

PAGE_SIZE = 50
FORM_FIELDS = ("name", "from", "body", "send_at", "rate_per_minute")


def require_admin() -> None:
    """Creating and steering campaigns is for admins (contract section 9); agents may watch."""
    if getattr(current_user, "role", "admin") != "admin":
        abort(403)


def find(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id) if campaign_id <= 2**31 - 1 else None
    if campaign is None:
        abort(404)
    return campaign


def progress(counts: dict) -> dict:
    done = sum(counts[b] for b in FINISHED)
    total = counts["total"]
    return {"done": done, "total": total, "percent": round(100 * done / total) if total else 100}


def summary(campaign: Campaign) -> dict:
    counts = service.counts(campaign.id)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "from": list(campaign.from_numbers or []),
        "send_at": iso(campaign.send_at),
        "created_at": iso(campaign.created_at),
        "rate_per_minute": campaign.rate_per_minute,
        "counts": counts,
        "progress": progress(counts),
        "errors": [
            {"code": code, "message": message, "count": n} for code, message, n in service.errors(campaign.id)
        ],
    }


@bp.get("/campaigns")
def campaigns():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = list(
        db.session.scalars(
            select(Campaign)
            .order_by(Campaign.created_at.desc(), Campaign.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    more = len(rows) > PAGE_SIZE
    return render_template(
        "admin/campaigns.html", campaigns=[summary(c) for c in rows[:PAGE_SIZE]], page=page, more=more
    )


def render_new(values: dict, error: str | None = None, status: int = 200):
    return render_template(
        "admin/campaign_new.html", values=values, error=error, csv_limit=csv_limit(), buckets=BUCKETS
    ), status


@bp.get("/campaigns/new")
def campaign_new():
    require_admin()
    return render_new({"from": "", "rate_per_minute": ""})


def _form_upload() -> bytes | None:
    upload = request.files.get("recipients")
    if upload is None or not upload.filename:
        return None
    raw = upload.stream.read(csv_limit() + 1)
    if len(raw) > csv_limit():
        raise intake.IntakeError("file_too_large", f"the CSV file is over {csv_limit():,} bytes")
    return raw


@bp.post("/campaigns/new")
def campaign_create():
    require_admin()
    request.max_content_length = csv_limit() + 1024 * 1024
    values = {name: request.form.get(name, "") for name in FORM_FIELDS}
    data = dict(values)
    try:
        csv_bytes = _form_upload()
        if csv_bytes is None:
            raise intake.IntakeError(
                "missing_field", "choose a CSV file of recipients (a header row with 'phone')"
            )
        campaign = intake.create(data, csv_bytes, created_by=getattr(current_user, "email", None))
    except intake.IntakeError as exc:
        db.session.rollback()
        return render_new(values, exc.message, 400)
    db.session.commit()
    skipped = len(campaign.rejected or [])
    flash(
        f"Campaign “{campaign.name}” created." + (" Some rows were set aside: see below." if skipped else "")
    )
    return redirect(url_for("admin.campaign", campaign_id=campaign.id))


@bp.post("/campaigns/preview")
def campaign_preview():
    """JSON for the new-campaign form's live preview (body + the chosen CSV file)."""
    require_admin()
    request.max_content_length = csv_limit() + 1024 * 1024
    try:
        csv_bytes = _form_upload()
    except intake.IntakeError as exc:
        return jsonify({"error": exc.message})
    total = request.form.get("total_rows", type=int)
    total = min(max(total, 0), 1_000_000) if total is not None else None
    return jsonify(preview.preview(request.form.get("body", "")[: intake.MAX_BODY], csv_bytes, total))


@bp.get("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int):
    item = find(campaign_id)
    return render_template(
        "admin/campaign.html",
        campaign=item,
        view=summary(item),
        buckets=BUCKETS,
        rejected=item.rejected or [],
    )


@bp.get("/campaigns/<int:campaign_id>.json")
def campaign_json(campaign_id: int):
    return jsonify(summary(find(campaign_id)))


@bp.get("/campaigns/<int:campaign_id>/recipients.csv")
def campaign_report(campaign_id: int) -> Response:
    find(campaign_id)
    return csv_response(campaign_id)


@bp.post("/campaigns/<int:campaign_id>/<any(pause, resume, cancel):action>")
def campaign_action(campaign_id: int, action: str):
    require_admin()
    item = find(campaign_id)
    try:
        service.transition(item, action)
    except service.InvalidTransition as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.campaign", campaign_id=campaign_id)), 303
    db.session.commit()
    flash(
        {"pause": "Paused.", "resume": "Resumed.", "cancel": "Cancelled: nothing more will be sent."}[action]
    )
    return redirect(url_for("admin.campaign", campaign_id=campaign_id), 303)
