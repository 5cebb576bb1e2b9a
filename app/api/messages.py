"""The Telefonie-compatible /api/v1/messages: a program written for Telefonie can point here."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import delete, func, select

from app import errors
from app.api import bp
from app.api.inputs import callback_url, integer, json_body, media, message_body, number, query_args
from app.conversations.models import Message, Receipt
from app.conversations.serialize import message_json
from app.conversations.service import (
    BodyTooLong,
    get_or_create_contact,
    get_or_create_conversation,
    queue_outbound,
    refresh_campaign_only,
    refresh_preview,
)
from app.errors import ApiError
from app.extensions import db

STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "receiving", "received")


LIST_PARAMS = ("direction", "status", "from", "to", "page", "page_size")
SEND_FIELDS = ("to", "from", "body", "media_url", "status_callback", "validity_period")


@bp.get("/messages")
def list_messages():
    args = query_args(LIST_PARAMS)
    query = select(Message)
    direction = args.get("direction")
    if direction is not None:
        if direction not in ("inbound", "outbound"):
            raise ApiError(400, errors.INVALID_FIELD, "'direction' must be inbound or outbound")
        query = query.where(Message.direction == direction)
    status = args.get("status")
    if status is not None:
        if status not in STATUSES:
            raise ApiError(400, errors.INVALID_FIELD, f"'status' must be one of {', '.join(STATUSES)}")
        query = query.where(Message.status == status)
    for name, column in (("from", Message.from_number), ("to", Message.to_number)):
        if name in args:
            query = query.where(column == number(args, name))
    page = integer(args.get("page"), "page", default=1, lo=1, hi=1_000_000)
    size = integer(args.get("page_size"), "page_size", default=50, lo=1, hi=100)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Message.id.desc()).offset((page - 1) * size).limit(size))
    return jsonify(
        {"messages": [message_json(m) for m in rows], "total": total, "page": page, "page_size": size}
    )


@bp.post("/messages")
def send_message():
    """The seed's POST /messages, every field known; `status_callback` is stored and each status
    of the message is forwarded to it (app.callbacks)."""
    data = json_body(SEND_FIELDS)
    to = number(data, "to")
    from_ = number(data, "from", errors.INVALID_FROM)
    media_urls = media(data)
    body = message_body(data, bool(media_urls))
    callback = callback_url(data)
    validity = integer(data.get("validity_period"), "validity_period", lo=1, hi=14400)
    contact = get_or_create_contact(to)
    conversation = get_or_create_conversation(from_, contact)
    try:
        message = queue_outbound(
            conversation, body, media_urls=media_urls, source="api", validity_period=validity
        )
    except BodyTooLong as exc:
        db.session.rollback()
        raise ApiError(400, errors.BODY_TOO_LONG, str(exc)) from exc
    except Exception:
        db.session.rollback()
        raise
    if callback:
        message.status_callback = callback
    db.session.commit()
    return jsonify(message_json(message)), 201


@bp.get("/messages/<sid>")
def get_message(sid: str):
    return jsonify(message_json(_find(sid)))


@bp.delete("/messages/<sid>")
def delete_message(sid: str):
    message = _find(sid)
    db.session.execute(delete(Receipt).where(Receipt.message_id == message.id))
    db.session.delete(message)
    db.session.flush()
    refresh_preview(message.conversation_id)  # never a deleted message as the thread's preview
    refresh_campaign_only(message.conversation_id)
    db.session.commit()
    return Response(status=204)


def _find(sid: str) -> Message:
    message = None
    if sid.isascii() and sid.isprintable() and len(sid) <= 40:
        message = db.session.scalar(select(Message).where(Message.sid == sid))
    if message is None:
        raise ApiError(404, errors.NOT_FOUND, f"no message {sid[:40].encode('ascii', 'replace').decode()!r}")
    return message
