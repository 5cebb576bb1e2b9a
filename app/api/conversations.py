"""/api/v1/conversations: threads newest activity first (cursor paging), their messages, replies."""

from __future__ import annotations

from datetime import UTC

from flask import jsonify
from sqlalchemy import and_, select

from app import errors
from app.api import bp
from app.api.inputs import MAX_ID, integer, json_body, media, message_body, query_args, text
from app.conversations import queries
from app.conversations.models import Conversation, Message
from app.conversations.serialize import conversation_json, message_json
from app.conversations.service import BodyTooLong, queue_outbound
from app.errors import ApiError
from app.extensions import db


@bp.get("/conversations")
def list_conversations():
    args = query_args(("filter", "q", "cursor", "limit"))
    limit = integer(args.get("limit"), "limit", default=50, lo=1, hi=100)
    filters = tuple(f for f in args.get("filter", "").split(",") if f)
    if bad := [f for f in filters if f not in queries.FILTERS and f != "mine"]:
        raise ApiError(
            400, errors.INVALID_FIELD, f"unknown filter {bad[0]!r}; use {', '.join(queries.FILTERS)}"
        )
    filters = tuple(f for f in filters if f != "mine")  # an API key has no user
    cursor = None
    if args.get("cursor"):
        cursor = _cursor(args["cursor"])
    search = text(args, "q", max_len=100)
    rows = list(db.session.scalars(queries.inbox(filters=filters, search=search, cursor=cursor, limit=limit)))
    return jsonify(
        {
            "conversations": [conversation_json(c) for c in rows],
            "next_cursor": queries.next_cursor(rows, limit),
        }
    )


@bp.get("/conversations/<int:conversation_id>")
def get_conversation(conversation_id: int):
    return jsonify(conversation_json(_find(conversation_id)))


@bp.get("/conversations/<int:conversation_id>/messages")
def conversation_messages(conversation_id: int):
    """Oldest first; `after` (a message's position id from `next_after`) pages forward."""
    conversation = _find(conversation_id)
    args = query_args(("after", "limit"))
    limit = integer(args.get("limit"), "limit", default=100, lo=1, hi=500)
    after = integer(args.get("after"), "after", default=0, lo=0, hi=MAX_ID)
    rows = list(
        db.session.scalars(
            select(Message)
            .where(and_(Message.conversation_id == conversation.id, Message.id > after))
            .order_by(Message.id)
            .limit(limit)
        )
    )
    return jsonify(
        {
            "messages": [message_json(m) for m in rows],
            "next_after": rows[-1].id if len(rows) == limit else None,
        }
    )


@bp.post("/conversations/<int:conversation_id>/messages")
def reply(conversation_id: int):
    conversation = _find(conversation_id)
    data = json_body(("body", "media_url"))
    media_urls = media(data)
    body = message_body(data, bool(media_urls))
    try:
        message = queue_outbound(conversation, body, media_urls=media_urls, source="api")
    except BodyTooLong as exc:
        db.session.rollback()
        raise ApiError(400, errors.BODY_TOO_LONG, str(exc)) from exc
    db.session.commit()
    return jsonify(message_json(message)), 201


def _find(conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise ApiError(404, errors.NOT_FOUND, f"no conversation {conversation_id}")
    return conversation


def _cursor(value: str) -> queries.Cursor:
    """A cursor from `next_cursor`; anything else (edited, huge ids, dates out of range) is a 400."""
    try:
        cursor = queries.Cursor.decode(value[:200])
        cursor.last_message_at.astimezone(UTC)  # year 1 at +14:00 overflows here, not in the query
        if not 0 <= cursor.id <= MAX_ID or len(value) > 200:
            raise queries.BadCursor("out of range")
    except (queries.BadCursor, OverflowError, ValueError, RecursionError) as exc:
        raise ApiError(400, errors.INVALID_FIELD, "'cursor' is not valid; start again without it") from exc
    return cursor
