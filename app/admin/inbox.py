"""The inbox: threads by latest activity, filters, search, keyset paging, and its JSON for polling.

A page costs a constant number of SQL statements whatever the number of threads: the signed-in
user, the page of conversations (contacts come in the same statement: the relationship is
lazy="joined") and the agents' emails.
"""

from __future__ import annotations

from flask import current_app, flash, jsonify, render_template, request, url_for
from flask_login import current_user

from app.admin import bp, live
from app.admin.present import agents, conversation_row
from app.conversations import queries
from app.extensions import db

PAGE_SIZE = 50
FILTER_LABELS = {
    "open": "Open",
    "closed": "Closed",
    "unread": "Unread",
    "flagged": "Flagged",
    "opted_out": "Opted out",
    "mine": "Mine",
    "campaigns": "Campaigns",
}


def requested_filters() -> tuple[str, ...]:
    """`?filter=open&filter=unread` or `?filter=open,unread`; unknown names are ignored."""
    names: list[str] = []
    for value in request.args.getlist("filter"):
        for name in value.split(","):
            name = name.strip()
            if name in FILTER_LABELS and name not in names:
                names.append(name)
    return tuple(names)


def load_page() -> tuple[list[dict], str | None, tuple[str, ...], str, bool]:
    filters = requested_filters()
    search = request.args.get("q", "").strip()[:100]
    cursor, bad_cursor = None, False
    if request.args.get("cursor"):
        try:
            cursor = queries.Cursor.decode(request.args["cursor"])
        except queries.BadCursor:
            bad_cursor = True
    query = queries.inbox(
        filters=filters, search=search or None, user_id=current_user.id, cursor=cursor, limit=PAGE_SIZE
    )
    rows = list(db.session.scalars(query))
    users = agents()
    return (
        [conversation_row(c, users) for c in rows],
        queries.next_cursor(rows, PAGE_SIZE),
        filters,
        search,
        bad_cursor,
    )


@bp.get("/")
def inbox():
    rows, next_cursor, filters, search, bad_cursor = load_page()
    if bad_cursor:
        flash("That page link is no longer valid; showing the newest threads.", "error")
    same = {"filter": list(filters), "q": search or None}
    paged = bool(request.args.get("cursor"))
    return render_template(
        "admin/inbox.html",
        rows=rows,
        filters=filters,
        filter_labels=FILTER_LABELS,
        search=search,
        older_url=url_for("admin.inbox", **same, cursor=next_cursor) if next_cursor else None,
        newer_url=url_for("admin.inbox", **same) if paged else None,
        first_page=not paged,
        poll_url=url_for("admin.inbox_json", **same),
        sandbox=sandbox_defaults(),
        stream_url=live.stream_url() if not paged else None,
    )


@bp.get("/inbox.json")
def inbox_json():
    rows, next_cursor, _filters, _search, _bad = load_page()
    return jsonify({"conversations": rows, "next_cursor": next_cursor})


def sandbox_defaults() -> dict | None:
    """The "text us" panel: development and testing only."""
    if current_app.config.get("APP_ENV") not in ("development", "testing"):
        return None
    return {"from": "+14155550123", "to": current_app.config.get("SANDBOX_OUR_NUMBER", "+12025550199")}
