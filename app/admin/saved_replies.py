"""Saved replies (canned responses): the answers an agent types twenty times a day.

A body is a reply template like a rule's (`{{ contact.name }}`, `{{ brand }}`), checked when saved
and rendered for the thread's contact by the same sandbox as rule replies (app/rules/templates.py),
so a saved reply can do no more than a rule can. The reply box asks `picker.json` for the matches
of what follows a `/` and inserts the rendered text.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from app import settings as stored
from app.admin import bp
from app.admin.models import SavedReply
from app.admin.thread import find
from app.extensions import db
from app.rules.templates import MAX_REPLY, ReplyTemplateError, compile_reply, render_reply

MAX_TITLE = 100
PICKER_LIMIT = 8


def check(form) -> tuple[dict[str, str], dict[str, str]]:
    title = " ".join(form.get("title", "").split())
    body = form.get("body", "").replace("\r\n", "\n").strip()
    values, errors = {"title": title, "body": body}, {}
    for key, value in values.items():
        if "\x00" in value:
            errors[key] = "This holds a character that can't be stored (NUL)."
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            errors[key] = "This holds a character that can't be stored (a lone surrogate)."
    if not title and "title" not in errors:
        errors["title"] = "Give the reply a title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"At most {MAX_TITLE} characters."
    if not body and "body" not in errors:
        errors["body"] = "Write the reply."
    elif len(body) > MAX_REPLY:
        errors["body"] = f"At most {MAX_REPLY} characters."
    elif "body" not in errors:
        try:
            compile_reply(body)
        except ReplyTemplateError as exc:
            errors["body"] = f"The template is not valid: {exc}"
    return values, errors


def find_reply(reply_id: int) -> SavedReply:
    row = db.session.get(SavedReply, reply_id)
    if row is None:
        abort(404)
    return row


def page(
    values: dict | None = None, errors: dict | None = None, editing: SavedReply | None = None, status=200
):
    rows = list(db.session.scalars(select(SavedReply).order_by(func.lower(SavedReply.title))))
    return render_template(
        "admin/saved_replies.html",
        replies=rows,
        values=values or {"title": "", "body": ""},
        errors=errors or {},
        editing=editing,
    ), status


def title_taken(title: str, except_id: int | None = None) -> bool:
    query = select(SavedReply.id).where(func.lower(SavedReply.title) == title.lower())
    if except_id is not None:
        query = query.where(SavedReply.id != except_id)
    return db.session.scalar(query) is not None


@bp.get("/saved-replies")
def saved_replies():
    return page()


@bp.post("/saved-replies")
def saved_reply_create():
    values, errors = check(request.form)
    if not errors and title_taken(values["title"]):
        errors["title"] = "A saved reply with this title exists already."
    if errors:
        return page(values, errors, status=400)
    db.session.add(SavedReply(title=values["title"], body=values["body"], created_by=current_user.id))
    db.session.commit()
    flash(
        f"Saved reply “{values['title']}” created. Type /{values['title'][:12].lower()} in a reply box.",
        "info",
    )
    return redirect(url_for("admin.saved_replies"))


@bp.route("/saved-replies/<int:reply_id>", methods=["GET", "POST"])
def saved_reply_edit(reply_id: int):
    row = find_reply(reply_id)
    if request.method == "GET":
        return page({"title": row.title, "body": row.body}, editing=row)
    values, errors = check(request.form)
    if not errors and title_taken(values["title"], row.id):
        errors["title"] = "A saved reply with this title exists already."
    if errors:
        return page(values, errors, editing=row, status=400)
    row.title, row.body = values["title"], values["body"]
    db.session.commit()
    flash("Saved reply updated.", "info")
    return redirect(url_for("admin.saved_replies"))


@bp.post("/saved-replies/<int:reply_id>/delete")
def saved_reply_delete(reply_id: int):
    row = find_reply(reply_id)
    db.session.delete(row)
    db.session.commit()
    flash(f"Saved reply “{row.title}” deleted.", "info")
    return redirect(url_for("admin.saved_replies"))


@bp.get("/conversations/<int:conversation_id>/saved-replies.json")
def saved_reply_picker(conversation_id: int):
    """The saved replies whose title contains `q`, rendered for this thread's contact."""
    conversation = find(conversation_id)
    q = request.args.get("q", "")[:MAX_TITLE].replace("\x00", "").strip().lower()
    query = select(SavedReply).order_by(func.lower(SavedReply.title)).limit(PICKER_LIMIT)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(SavedReply.title).like(f"%{escaped}%", escape="\\"))
    contact = conversation.contact
    context: dict = {
        "contact": {"phone": contact.phone, **({"name": contact.name} if contact.name else {})},
        "message": {"from": contact.phone, "to": conversation.our_number, "body": ""},
        "brand": stored.get_all().get("brand", ""),
    }
    items = []
    for row in db.session.scalars(query):
        try:
            text, error = render_reply(row.body, context), None
        except ReplyTemplateError as exc:
            text, error = "", str(exc)
        items.append({"id": row.id, "title": row.title, "text": text, "error": error})
    return jsonify({"replies": items})
