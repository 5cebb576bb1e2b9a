"""Overview: messages in and out per day for the last 14 days, and the delivery rate.

One grouped query; the chart is SVG markup drawn by the template (no script, no chart library).
Days are UTC days.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import render_template
from sqlalchemy import func, select

from app.admin import bp
from app.conversations.models import Message
from app.dbutil import dialect
from app.extensions import db
from app.types import utcnow

DAYS = 14
FINAL_BAD = ("undelivered", "failed")
CHART = {"width": 720, "height": 220, "left": 40, "bottom": 28, "top": 12}


def day_column():
    if dialect() == "postgresql":
        return func.date(func.timezone("UTC", Message.date_created))
    return func.date(Message.date_created)


def counts(since: datetime) -> list[tuple[str, str, str, int]]:
    day = day_column().label("day")
    query = (
        select(day, Message.direction, Message.status, func.count())
        .where(Message.date_created >= since)
        .group_by(day, Message.direction, Message.status)
    )
    return [(str(d), direction, status, n) for d, direction, status, n in db.session.execute(query)]


def summarize(today: date) -> dict:
    first = today - timedelta(days=DAYS - 1)
    days = [first + timedelta(days=i) for i in range(DAYS)]
    table = {d.isoformat(): {"day": d, "in": 0, "out": 0, "delivered": 0, "failed": 0} for d in days}
    since = datetime.combine(first, time.min).replace(tzinfo=utcnow().tzinfo)
    for day, direction, status, n in counts(since):
        row = table.get(day[:10])
        if row is None:
            continue
        if direction == "inbound":
            row["in"] += n
            continue
        row["out"] += n
        if status == "delivered":
            row["delivered"] += n
        elif status in FINAL_BAD:
            row["failed"] += n
    rows = list(table.values())
    delivered = sum(r["delivered"] for r in rows)
    finished = delivered + sum(r["failed"] for r in rows)
    return {
        "rows": rows,
        "total_in": sum(r["in"] for r in rows),
        "total_out": sum(r["out"] for r in rows),
        "delivered": delivered,
        "failed": finished - delivered,
        "rate": round(100 * delivered / finished, 1) if finished else None,
    }


def chart(rows: list[dict]) -> dict:
    """Bar geometry for the template: two bars a day (in, out) scaled to the busiest day."""
    width, height = CHART["width"], CHART["height"]
    plot_h = height - CHART["bottom"] - CHART["top"]
    top = max([max(r["in"], r["out"]) for r in rows] + [1])
    slot = (width - CHART["left"]) / len(rows)
    bar = max(2.0, slot * 0.35)
    bars, labels = [], []
    for i, r in enumerate(rows):
        x = CHART["left"] + i * slot + slot * 0.12
        for offset, key in ((0, "in"), (bar, "out")):
            h = plot_h * r[key] / top
            bars.append(
                {
                    "x": round(x + offset, 1),
                    "y": round(CHART["top"] + plot_h - h, 1),
                    "w": round(bar, 1),
                    "h": round(h, 1),
                    "kind": key,
                    "title": f"{r['day'].isoformat()}: {r[key]} {key}",
                }
            )
        labels.append({"x": round(x + bar, 1), "text": r["day"].strftime("%d %b")})
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": labels,
        "top": top,
        "axis_y": CHART["top"] + plot_h,
        "left": CHART["left"],
        "top_y": CHART["top"],
    }


@bp.get("/overview")
def overview():
    summary = summarize(utcnow().date())
    return render_template("admin/overview.html", summary=summary, chart=chart(summary["rows"]))
