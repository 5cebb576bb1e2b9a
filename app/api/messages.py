"""The Telefonie-compatible /api/v1/messages: a program written for Telefonie can point here."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import delete, func, select

from app.api import bp
from app.api.inputs import integer, json_body, media, number, text
from app.conversations.models import Message, Receipt
from app.conversations.serialize import message_json
from app.conversations.service import (
    BodyTooLong,
    get_or_create_contact,
    get_or_create_conversation,
    queue_outbound,
    refresh_preview,
)
from app.errors import ApiError
from app.extensions import db

STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "receiving", "received")


@bp.get("/messages")
def list_messages():
    query = select(Message)
    direction = request.args.get("direction")
    if direction:
        if direction not in ("inbound", "outbound"):
            raise ApiError(400, "invalid_field", "'direction' must be inbound or outbound")
        query = query.where(Message.direction == direction)
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise ApiError(400, "invalid_field", f"'status' must be one of {', '.join(STATUSES)}")
        query = query.where(Message.status == status)
    for name, column in (("from", Message.from_number), ("to", Message.to_number)):
        if request.args.get(name):
            query = query.where(column == number(request.args, name))
    page = integer(request.args.get("page"), "page", default=1, lo=1, hi=1_000_000)
    size = integer(request.args.get("page_size"), "page_size", default=50, lo=1, hi=100)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Message.id.desc()).offset((page - 1) * size).limit(size))
    return jsonify(
        {"messages": [message_json(m) for m in rows], "total": total, "page": page, "page_size": size}
    )


@bp.post("/messages")
def send_message():
    data = json_body()
    to = number(data, "to")
    from_ = number(data, "from")
    body = text(data, "body", max_len=1600) or ""
    media_urls = media(data)
    if not body and not media_urls:
        raise ApiError(400, "21602", "'body' or 'media_url' is required")
    validity = integer(data.get("validity_period"), "validity_period", lo=1, hi=14400)
    contact = get_or_create_contact(to)
    conversation = get_or_create_conversation(from_, contact)
    try:
        message = queue_outbound(
            conversation, body, media_urls=media_urls, source="api", validity_period=validity
        )
    except BodyTooLong as exc:
        db.session.rollback()
        raise ApiError(400, "21617", str(exc)) from exc
    except Exception:
        db.session.rollback()
        raise
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
    db.session.commit()
    return Response(status=204)


def _find(sid: str) -> Message:
    message = None
    if sid.isprintable() and len(sid) <= 40:
        message = db.session.scalar(select(Message).where(Message.sid == sid))
    if message is None:
        raise ApiError(404, "20404", f"no message {sid[:40]!r}")
    return message
