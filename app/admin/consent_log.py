"""The consent log (every opt-out and opt-in) and its CSV export.

Every cell is quoted. A valid E.164 number is written as it is, so "+13055550203" arrives intact
(a spreadsheet that imports quoted fields as text keeps it as text; nothing can run from a phone
number). Any other cell that a spreadsheet would read as a formula (starting with = + - @, a tab or
a carriage return) gets a leading apostrophe, so an inbound "=HYPERLINK(...)" stays text in Excel,
Sheets and LibreOffice, which evaluate formulas even inside quotes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, render_template, request, stream_with_context, url_for
from sqlalchemy import select

from app.admin import bp
from app.consent.models import ConsentEvent
from app.conversations.serialize import iso
from app.extensions import db
from app.telefonie.numbers import InvalidNumber, normalize_e164

PAGE_SIZE = 100
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("time", "phone", "name", "action", "source", "actor", "reason", "message")


def spreadsheet_safe(value: object) -> str:
    """The cell's text, with an apostrophe before anything that could run as a formula."""
    text = "" if value is None else str(value)
    if not text.startswith(FORMULA_STARTS) or is_e164(text):
        return text
    return "'" + text


def is_e164(text: str) -> bool:
    """Exactly a valid E.164 number (no spaces, nothing after it): safe to leave unprefixed."""
    try:
        return normalize_e164(text) == text
    except InvalidNumber:
        return False


@bp.get("/consent")
def consent_log():
    before = request.args.get("before", type=int)
    query = select(ConsentEvent)
    if before:
        query = query.where(ConsentEvent.id < before)
    events = list(db.session.scalars(query.order_by(ConsentEvent.id.desc()).limit(PAGE_SIZE)))
    older_url = url_for("admin.consent_log", before=events[-1].id) if len(events) == PAGE_SIZE else None
    return render_template("admin/consent.html", events=events, older_url=older_url)


def csv_rows() -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    events = db.session.scalars(
        select(ConsentEvent).order_by(ConsentEvent.id).execution_options(yield_per=500)
    )
    for event in events:
        writer.writerow(
            [
                spreadsheet_safe(v)
                for v in (
                    iso(event.created_at),
                    event.contact.phone,
                    event.contact.name,
                    event.action,
                    event.source,
                    event.actor,
                    event.reason,
                    event.message_body,
                )
            ]
        )
        yield flush()


@bp.get("/consent.csv")
def consent_csv():
    return Response(
        stream_with_context(csv_rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=consent-log.csv"},
    )
