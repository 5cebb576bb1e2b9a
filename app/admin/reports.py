"""/admin/reports: how fast the team answers and resolves, per day and per agent; chart, table, CSV.

The chart is SVG drawn here on the server (no chart library, nothing for the CSP to refuse):
bars for threads opened and closed per day, and a second chart of the median first response.
"""

from __future__ import annotations

import csv
import io

from flask import Response, render_template, request

from app.admin import bp
from app.admin.report_data import MAX_DAYS, compute

SPANS = (7, 14, 30, 90)
CHART_W, CHART_H, PAD = 720, 180, 28


def span() -> int:
    value = request.args.get("days", "14")
    return int(value) if value.isascii() and value.isdigit() and int(value) in SPANS else 14


def duration(seconds: float | None) -> str:
    """12 s, 4 min, 2.5 h, 3.1 d: short enough for a table cell."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def bars(days: list[dict], keys: tuple[str, ...]) -> dict:
    """Rectangles for grouped bars, one group per day; heights scaled to the largest value."""
    peak = max([d[k] or 0 for d in days for k in keys] + [1])
    group = (CHART_W - PAD) / max(1, len(days))
    width = max(1.0, group * 0.8 / len(keys))
    rects, labels = [], []
    for i, d in enumerate(days):
        for j, key in enumerate(keys):
            value = d[key] or 0
            shown = f"{value:g}"
            height = (CHART_H - PAD) * value / peak
            x = PAD + i * group + group * 0.1 + j * width
            rects.append(
                {
                    "x": round(x, 1),
                    "y": round(CHART_H - PAD - height, 1),
                    "w": round(width, 1),
                    "h": round(height, 1),
                    "key": key,
                    "title": f"{d['day']}: {shown} {key}",
                }
            )
        if len(days) <= 14 or i % max(1, len(days) // 10) == 0:
            labels.append({"x": round(PAD + i * group + group / 2, 1), "text": d["day"][5:]})
    return {"rects": rects, "labels": labels, "peak": peak, "w": CHART_W, "h": CHART_H, "pad": PAD}


@bp.get("/reports")
def reports():
    data = compute(span())
    slowest = max([d["frt_median"] or 0 for d in data["days"]] + [0])
    unit, divisor = ("minutes", 60) if slowest >= 120 else ("seconds", 1)
    frt = [{**d, "frt": round((d["frt_median"] or 0) / divisor, 1)} for d in data["days"]]
    return render_template(
        "admin/reports.html",
        data=data,
        spans=SPANS,
        volume=bars(data["days"], ("opened", "closed")),
        speed=bars(frt, ("frt",)),
        speed_unit=unit,
        duration=duration,
    )


@bp.get("/reports.csv")
def reports_csv():
    data = compute(span())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "scope",
            "key",
            "opened",
            "closed",
            "first_responses",
            "first_response_median_s",
            "first_response_p90_s",
            "resolution_median_s",
            "resolution_p90_s",
        ]
    )
    for scope, key, rows in (("day", "day", data["days"]), ("agent", "agent", data["agents"])):
        for r in rows:
            name = str(r[key])
            if name[:1] in ("=", "+", "-", "@"):  # no formula injection when opened in a spreadsheet
                name = "'" + name
            writer.writerow(
                [scope, name, r["opened"], r["closed"], r["responses"]]
                + [
                    "" if r[k] is None else round(r[k], 1)
                    for k in ("frt_median", "frt_p90", "resolution_median", "resolution_p90")
                ]
            )
    filename = f"desk-report-{data['first_day']}-{data['last_day']}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


assert MAX_DAYS >= max(SPANS)
