"""What an agent does to a thread besides replying: assign, tag, close, reopen, clear the flag."""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from app.accounts.models import User
from app.admin import bp, timeline
from app.admin.thread import find
from app.conversations import tags
from app.extensions import db


def back_to(conversation_id: int):
    return redirect(url_for("admin.thread", conversation_id=conversation_id))


@bp.post("/conversations/<int:conversation_id>/assign")
def assign(conversation_id: int):
    conversation = find(conversation_id)
    value = request.form.get("user_id", "").strip()
    if not value:
        if conversation.assignee_id is not None:
            timeline.record(conversation.id, "unassigned")
        conversation.assignee_id = None
        db.session.commit()
        flash("Thread unassigned.", "info")
        return back_to(conversation.id)
    valid = value.isascii() and value.isdigit() and len(value) < 10
    user = db.session.get(User, int(value)) if valid else None
    if user is None or not user.active:
        flash("No such agent.", "error")
        return back_to(conversation.id)
    if conversation.assignee_id != user.id:
        timeline.record(conversation.id, "assigned", user.email)
    conversation.assignee_id = user.id
    db.session.commit()
    flash(f"Assigned to {user.email}.", "info")
    return back_to(conversation.id)


@bp.post("/conversations/<int:conversation_id>/tags")
def tag(conversation_id: int):
    """Comma-separated tags: trimmed, each once compared case-folded, shown as first written."""
    conversation = find(conversation_id)
    before = list(conversation.tags or [])
    try:
        conversation.tags = tags.canonical(tags.parse(request.form.get("tags", "")))
    except tags.TagError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return back_to(conversation.id)
    if conversation.tags != before:
        timeline.record(
            conversation.id, "tagged" if conversation.tags else "untagged", ", ".join(conversation.tags)
        )
    db.session.commit()
    flash("Tags saved." if conversation.tags else "Tags removed.", "info")
    return back_to(conversation.id)


@bp.post("/conversations/<int:conversation_id>/close")
def close(conversation_id: int):
    return _set_status(conversation_id, "closed", "Thread closed.", "closed")


@bp.post("/conversations/<int:conversation_id>/reopen")
def reopen(conversation_id: int):
    return _set_status(conversation_id, "open", "Thread reopened.", "reopened")


def _set_status(conversation_id: int, status: str, message: str, event: str):
    conversation = find(conversation_id)
    if conversation.status != status:
        timeline.record(conversation.id, event)
    conversation.status = status
    db.session.commit()
    flash(message, "info")
    return back_to(conversation.id)


@bp.post("/conversations/<int:conversation_id>/unflag")
def unflag(conversation_id: int):
    conversation = find(conversation_id)
    conversation.flagged = False
    conversation.flag_reason = None
    db.session.commit()
    flash("Flag cleared.", "info")
    return back_to(conversation.id)
