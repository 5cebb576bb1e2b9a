"""Private notes on a thread: for colleagues only, stored apart from messages (admin.models.Note).

A note is never queued, never sent to the provider and never listed by /api/v1/messages: those all
read the messages table, and a note is not a row there.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.models import Note
from app.admin.thread import find
from app.extensions import db

MAX_NOTE_CHARS = 5000


def clean_note(text: str) -> str | None:
    """The note's text, or None when it can't be stored (NUL, lone surrogates)."""
    text = text.replace("\r\n", "\n").strip()
    if "\x00" in text:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


@bp.post("/conversations/<int:conversation_id>/notes")
def add_note(conversation_id: int):
    conversation = find(conversation_id)
    back = redirect(url_for("admin.thread", conversation_id=conversation.id) + "#note-form")
    text = clean_note(request.form.get("note", ""))
    if text is None:
        flash("The note holds a character that can't be stored; nothing was saved.", "error")
        return back
    if not text:
        flash("Write a note first.", "error")
        return back
    if len(text) > MAX_NOTE_CHARS:
        flash(
            f"A note may have at most {MAX_NOTE_CHARS} characters ({len(text)} given); nothing was saved.",
            "error",
        )
        return back
    db.session.add(Note(conversation_id=conversation.id, author_id=current_user.id, body=text))
    db.session.commit()
    flash("Note added (visible to the team only).", "info")
    return back
