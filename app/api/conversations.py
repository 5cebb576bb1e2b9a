"""/api/v1/conversations: threads newest activity first (cursor paging), their messages, replies."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import and_, select

from app.api import bp
from app.api.inputs import integer, json_body, media, text
from app.conversations import queries
from app.conversations.models import Conversation, Message
from app.conversations.serialize import conversation_json, message_json
from app.conversations.service import BodyTooLong, queue_outbound
from app.errors import ApiError
from app.extensions import db


@bp.get("/conversations")
def list_conversations():
    limit = integer(request.args.get("limit"), "limit", default=50, lo=1, hi=100)
    filters = tuple(f for f in request.args.get("filter", "").split(",") if f)
    if bad := [f for f in filters if f not in queries.FILTERS and f != "mine"]:
        raise ApiError(400, "invalid_field", f"unknown filter {bad[0]!r}; use {', '.join(queries.FILTERS)}")
    filters = tuple(f for f in filters if f != "mine")  # an API key has no user
    cursor = None
    if request.args.get("cursor"):
        try:
            cursor = queries.Cursor.decode(request.args["cursor"])
        except queries.BadCursor as exc:
            raise ApiError(400, "invalid_cursor", str(exc)) from exc
    search = text(request.args, "q", max_len=100)
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
    limit = integer(request.args.get("limit"), "limit", default=100, lo=1, hi=500)
    after = integer(request.args.get("after"), "after", default=0, lo=0)
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
    data = json_body()
    body = text(data, "body") or ""
    media_urls = media(data)
    if not body and not media_urls:
        raise ApiError(400, "21602", "'body' or 'media_url' is required")
    try:
        message = queue_outbound(conversation, body, media_urls=media_urls, source="api")
    except BodyTooLong as exc:
        db.session.rollback()
        raise ApiError(400, "21617", str(exc)) from exc
    db.session.commit()
    return jsonify(message_json(message)), 201


def _find(conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"no conversation {conversation_id}")
    return conversation
