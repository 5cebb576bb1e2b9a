"""Settings: brand, support contact, HELP / STOP / START texts, loop guard, quiet hours, and the
admin's extra consent keywords (the contract's defaults are shown but cannot be removed).
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app import settings as stored
from app.admin import bp
from app.consent import service as consent
from app.consent.keywords import DEFAULT_KEYWORDS, DEFAULT_SET, KINDS, normalize, validate_keyword
from app.consent.models import ConsentKeyword
from app.extensions import db
from app.telefonie import segments

TEXT_FIELDS = {"brand": 60, "support_contact": 120, "help_text": 480, "stop_text": 480, "start_text": 480}
NUMBER_FIELDS = {
    "loop_guard_max": (0, 100),
    "loop_guard_minutes": (1, 1440),
    "campaign_rate_per_minute": (1, 6000),
}
TIME_FIELDS = ("quiet_start", "quiet_end")
HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
KIND_LABELS = {"opt_out": "Opt-out (like STOP)", "opt_in": "Opt-in (like START)", "help": "Help (like HELP)"}
CONSENT_TEXTS = ("help_text", "stop_text", "start_text")
# What each placeholder can grow to: the longest value its own field accepts.
PLACEHOLDERS = {"{brand}": TEXT_FIELDS["brand"], "{contact}": TEXT_FIELDS["support_contact"]}
_WIDE = "\U0001f600"  # outside GSM-7 and two UTF-16 units: the longest a character can be


def worst_case_segments(text: str) -> int:
    """Segments of a consent text with every placeholder at its longest in the widest characters
    (so UCS-2): a text that passes can be sent whatever brand and contact are saved later."""
    for placeholder, limit in PLACEHOLDERS.items():
        text = text.replace(placeholder, _WIDE * limit)
    return segments.count_segments(text)


def check(form) -> tuple[dict[str, str], dict[str, str]]:
    values, errors = {}, {}
    for key, limit in TEXT_FIELDS.items():
        value = form.get(key, "").replace("\r\n", "\n").strip()
        values[key] = value
        if not value:
            errors[key] = "required"
        elif len(value) > limit:
            errors[key] = f"at most {limit} characters"
    for key, (lo, hi) in NUMBER_FIELDS.items():
        value = form.get(key, "").strip()
        values[key] = value
        if not value.isdigit() or not lo <= int(value) <= hi:
            errors[key] = f"a whole number from {lo} to {hi}"
    for key in TIME_FIELDS:
        value = form.get(key, "").strip()
        values[key] = value
        if not HHMM.match(value):
            errors[key] = "a 24-hour time like 21:00"
    for key in CONSENT_TEXTS:
        if not errors.get(key) and (parts := worst_case_segments(values[key])) > segments.MAX_SEGMENTS:
            errors[key] = (
                f"too long: with the longest brand ({PLACEHOLDERS['{brand}']} characters) and contact "
                f"({PLACEHOLDERS['{contact}']}) in characters outside GSM-7, this text is {parts} "
                f"segments; the limit is {segments.MAX_SEGMENTS}"
            )
    if not errors.get("help_text") and "STOP" not in values["help_text"].upper():
        errors["help_text"] = "the HELP text must tell people how to opt out (mention STOP)"
    if not errors.get("stop_text") and not re.search(r"\b(START|UNSTOP|YES)\b", values["stop_text"].upper()):
        errors["stop_text"] = "the STOP confirmation must say how to opt back in (mention START)"
    return values, errors


def page(
    values: dict[str, str],
    errors: dict[str, str],
    keyword_error: str | None = None,
    keyword_value: str = "",
    status: int = 200,
):
    extras = list(
        db.session.scalars(select(ConsentKeyword).order_by(ConsentKeyword.kind, ConsentKeyword.keyword))
    )
    previews = {}
    for key in ("help_text", "stop_text", "start_text"):
        text = stored.render(key, values) if not errors else values[key]
        info = segments.analyze(text)
        previews[key] = {"text": text, "encoding": info.encoding, "segments": info.num_segments}
    return render_template(
        "admin/settings.html",
        values=values,
        errors=errors,
        extras=extras,
        defaults=DEFAULT_KEYWORDS,
        kind_labels=KIND_LABELS,
        previews=previews,
        keyword_error=keyword_error,
        keyword_value=keyword_value,
    ), status


@bp.get("/settings")
def settings():
    return page(stored.get_all(), {})


@bp.post("/settings")
def settings_save():
    values, errors = check(request.form)
    if errors:
        return page({**stored.get_all(), **values}, errors, status=400)
    for key, value in values.items():
        stored.put(key, value)
    db.session.commit()
    flash("Settings saved.", "info")
    return redirect(url_for("admin.settings"))


@bp.post("/settings/keywords")
def keyword_add():
    text = request.form.get("keyword", "")
    kind = request.form.get("kind", "")
    problem = None
    try:
        keyword = validate_keyword(text)
    except ValueError as exc:
        keyword, problem = "", str(exc)
    if problem is None and kind not in KINDS:
        problem = "choose what the keyword does"
    elif problem is None and DEFAULT_SET.kind_of(keyword) is not None:
        problem = f"“{text.strip()}” is a default keyword already"
    elif problem is None and db.session.scalar(
        select(ConsentKeyword).where(ConsentKeyword.keyword == keyword)
    ):
        problem = f"“{text.strip()}” is a keyword already"
    if problem:
        return page(stored.get_all(), {}, keyword_error=problem, keyword_value=text, status=400)
    db.session.add(ConsentKeyword(keyword=keyword, kind=kind))
    db.session.commit()
    consent.invalidate_cache()
    flash(f"Keyword “{keyword.upper()}” added.", "info")
    return redirect(url_for("admin.settings"))


@bp.post("/settings/keywords/<int:keyword_id>/delete")
def keyword_delete(keyword_id: int):
    row = db.session.get(ConsentKeyword, keyword_id)
    if row is None:
        abort(404)
    if normalize(row.keyword) in DEFAULT_SET.lookup:
        flash("The default keywords cannot be removed.", "error")
        return redirect(url_for("admin.settings"))
    db.session.delete(row)
    db.session.commit()
    consent.invalidate_cache()
    flash(f"Keyword “{row.keyword.upper()}” removed.", "info")
    return redirect(url_for("admin.settings"))
