"""What an agent does to a thread besides replying: assign, tag, close, reopen, clear the flag."""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from app.accounts.models import User
from app.admin import bp, timeline
from app.admin.thread import find
from app.extensions import db

MAX_TAGS = 20
MAX_TAG_LENGTH = 50


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


def parse_tags(text: str) -> list[str] | str:
    """Comma-separated tags, trimmed and deduplicated; a string when something is wrong."""
    tags: list[str] = []
    for raw in text.split(","):
        tag = " ".join(raw.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            return f"A tag may have at most {MAX_TAG_LENGTH} characters."
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        return f"A thread may have at most {MAX_TAGS} tags."
    return tags


@bp.post("/conversations/<int:conversation_id>/tags")
def tag(conversation_id: int):
    conversation = find(conversation_id)
    tags = parse_tags(request.form.get("tags", ""))
    if isinstance(tags, str):
        flash(tags, "error")
        return back_to(conversation.id)
    if tags != list(conversation.tags or []):
        timeline.record(conversation.id, "tagged" if tags else "untagged", ", ".join(tags))
    conversation.tags = tags
    db.session.commit()
    flash("Tags saved." if tags else "Tags removed.", "info")
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
