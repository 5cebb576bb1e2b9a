"""The desk's preview of a campaign before it is created: the first recipients' messages as they
will be sent, with encoding, segments and an estimated cost, and a warning when a recipient's
fields turn a GSM-7 body into UCS-2 (twice the segments: 70 characters a part instead of 160)."""

from __future__ import annotations

import codecs
from decimal import Decimal

from app.campaigns import audience, render
from app.rules.templates import ReplyTemplateError
from app.telefonie import segments

PREVIEW_ROWS = 5
PREVIEW_BYTES = 64 * 1024
PRICE_PER_SEGMENT = Decimal("0.0079")  # USD, a US long-code segment; the provider bills the real price


def _first_rows(raw: bytes) -> tuple[list[audience.Row], int]:
    """The first rows of a CSV (parsed from its first 64 KiB) and an estimate of its row count."""
    head = raw[:PREVIEW_BYTES]
    text = codecs.decode(head, "utf-8-sig", errors="replace")
    if len(raw) > PREVIEW_BYTES:
        text = text.rsplit("\n", 1)[0]
    rows = audience.from_csv(text.encode("utf-8"))
    total = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1) - 1
    return rows, max(total, len(rows))


def preview(
    body: str, csv_bytes: bytes | None, total_rows: int | None = None, price: Decimal = PRICE_PER_SEGMENT
) -> dict:
    """A dict for the desk; `error` says what is wrong instead when the body or file is unusable."""
    try:
        if body:
            render.check(body, [])
    except render.BodyError as exc:
        return {"error": str(exc)}
    base = segments.analyze(render.render(body, "", None, None) if body else "")
    rows: list[audience.Row] = []
    total = 0
    if csv_bytes:
        try:
            rows, total = _first_rows(csv_bytes)
            total = max(total, total_rows or 0)
        except audience.AudienceError as exc:
            return {"error": str(exc)}
    items: list[dict] = []
    warnings: list[str] = []
    for row in [r for r in rows if r.outcome == "pending"][:PREVIEW_ROWS]:
        try:
            text = render.render(body, row.phone, row.name, row.fields)
        except ReplyTemplateError as exc:
            return {"error": f"row {row.row}: {exc}"}
        info = segments.analyze(text)
        if base.encoding == segments.GSM7 and info.encoding == segments.UCS2:
            warnings.append(
                f"Row {row.row} ({row.phone}): a field turns the GSM-7 body into UCS-2 "
                f"({info.num_segments} segment{'s' if info.num_segments != 1 else ''}, 70 characters a part)."
            )
        items.append(
            {
                "row": row.row,
                "phone": row.phone,
                "text": text,
                "encoding": info.encoding,
                "segments": info.num_segments,
                "cost": str((price * info.num_segments).quantize(Decimal("0.0001"))),
            }
        )
    # The preview rows' average segments stand for the whole list (an estimate, as it says).
    average = Decimal(sum(i["segments"] for i in items)) / len(items) if items else Decimal(base.num_segments)
    return {
        "encoding": base.encoding,
        "segments": base.num_segments,
        "recipients": total,
        "rows": items,
        "warnings": warnings,
        "estimated_cost": str((price * average * total).quantize(Decimal("0.01"))),
        "price_per_segment": str(price),
    }
