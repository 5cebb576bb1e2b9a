"""A thread: its messages as a chat, the reply form, and the JSON the page polls for news.

The page costs a constant number of SQL statements whatever the thread's length: the user, the
conversation with its contact, the newest messages, the agents; plus, only when they apply, the
opt-out reason and marking the thread read.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from app.admin import bp, live, timeline
from app.admin.present import agents, message_view, opted_out_notice, status_view
from app.consent.guard import OptedOut
from app.conversations.models import Conversation, Message, Receipt
from app.conversations.serialize import iso
from app.conversations.service import BodyTooLong, queue_outbound
from app.extensions import db

PAGE_MESSAGES = 200
POLL_MESSAGES = 100
RECENT_STATUSES = 50
MAX_BODY_CHARS = 1600


def find(conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        abort(404)
    return conversation


def mark_read(conversation: Conversation) -> None:
    """Call after the answer is built: the commit expires the loaded rows."""
    if conversation.unread_count:
        conversation.unread_count = 0
        db.session.commit()


def newest_messages(conversation_id: int, before: int | None) -> list[Message]:
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before:
        query = query.where(Message.id < before)
    rows = list(db.session.scalars(query.order_by(Message.id.desc()).limit(PAGE_MESSAGES)))
    rows.reverse()
    return rows


@bp.get("/conversations/<int:conversation_id>")
def thread(conversation_id: int):
    conversation = find(conversation_id)
    before = request.args.get("before", type=int)
    messages = newest_messages(conversation.id, before)
    notice = opted_out_notice(conversation.contact)
    users = agents()
    earlier_url = None
    if len(messages) == PAGE_MESSAGES:
        earlier_url = url_for("admin.thread", conversation_id=conversation.id, before=messages[0].id)
    since = messages[0].date_created if len(messages) == PAGE_MESSAGES or before else None
    items = timeline.merge(
        [message_view(m) for m in messages],
        [m.date_created for m in messages],
        timeline.extras(conversation.id, since, users) if not before else [],
    )
    page = render_template(
        "admin/thread.html",
        conversation=conversation,
        contact=conversation.contact,
        messages=[message_view(m) for m in messages],
        timeline=items,
        note_after=max((i["id"] for i in items if i["type"] == "note"), default=0),
        stream_url=live.stream_url(),
        notice=notice,
        users=users,
        assignee=users.get(conversation.assignee_id) if conversation.assignee_id else None,
        earlier_url=earlier_url,
        live=not before,
        poll_url=url_for("admin.thread_messages", conversation_id=conversation.id),
    )
    if not before:
        mark_read(conversation)
    return page


@bp.post("/conversations/<int:conversation_id>/reply")
def reply(conversation_id: int):
    conversation = find(conversation_id)
    back = redirect(url_for("admin.thread", conversation_id=conversation.id))
    body = request.form.get("body", "").replace("\r\n", "\n")
    if not body.strip():
        flash("Write a message first.", "error")
        return back
    if len(body) > MAX_BODY_CHARS:
        flash(f"The message is too long ({len(body)} characters); nothing was sent.", "error")
        return back
    try:
        message = queue_outbound(conversation, body, source="agent")
    except OptedOut:
        db.session.rollback()
        flash(opted_out_notice(conversation.contact) or "This contact opted out; nothing was sent.", "error")
        return back
    except BodyTooLong as exc:
        db.session.rollback()
        flash(f"Not sent: {exc}.", "error")
        return back
    db.session.flush()
    timeline.record(conversation.id, "replied", message_id=getattr(message, "id", None))
    db.session.commit()
    flash("Reply queued.", "info")
    return back


@bp.get("/conversations/<int:conversation_id>/messages.json")
def thread_messages(conversation_id: int):
    """Messages after `after`, the statuses of the recent ones, and the thread's state."""
    conversation = find(conversation_id)
    after = request.args.get("after", default=0, type=int)
    new = list(
        db.session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.id > after)
            .order_by(Message.id)
            .limit(POLL_MESSAGES)
        )
    )
    recent = list(
        db.session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.direction == "outbound")
            .order_by(Message.id.desc())
            .limit(RECENT_STATUSES)
        )
    )
    contact = conversation.contact
    note_after = request.args.get("note_after", default=0, type=int)
    answer = jsonify(
        {
            "messages": [message_view(m) for m in new],
            "notes": timeline.notes_after(conversation.id, note_after, agents()) if note_after >= 0 else [],
            "statuses": [status_view(m) for m in recent],
            "conversation": {
                "status": conversation.status,
                "flagged": conversation.flagged,
                "opted_out": contact.opted_out,
                "notice": opted_out_notice(contact),
            },
        }
    )
    if any(m.direction == "inbound" for m in new):
        mark_read(conversation)
    return answer


@bp.get("/messages/<int:message_id>/receipts.json")
def receipts(message_id: int):
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404)
    rows = db.session.scalars(select(Receipt).where(Receipt.message_id == message.id).order_by(Receipt.id))
    return jsonify(
        {
            "message_id": message.id,
            "provider_id": message.provider_id,
            "attempts": message.attempts,
            "last_error": message.last_error,
            "receipts": [
                {
                    "status": r.status,
                    "at": iso(r.received_at),
                    "error": " ".join(str(p) for p in (r.error_code, r.error_message) if p),
                    "applied": r.applied,
                }
                for r in rows
            ],
        }
    )
