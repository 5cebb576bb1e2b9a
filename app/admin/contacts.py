"""Contacts: list and search, one contact's name, consent state and history, manual opt-out / opt-in.

A manual change is logged like any other (source "agent", actor = the signed-in email).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.admin import bp
from app.admin.present import opted_out_notice
from app.consent import service as consent
from app.consent.models import ConsentEvent
from app.conversations.models import Contact, Conversation
from app.conversations.queries import contact_matches
from app.conversations.service import get_or_create_contact
from app.extensions import db
from app.telefonie.numbers import InvalidNumber, normalize_e164

PAGE_SIZE = 50
MAX_NAME = 200
MAX_REASON = 500


def like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@bp.get("/contacts")
def contacts():
    search = request.args.get("q", "").strip()[:100]
    before = request.args.get("before", type=int)
    query = select(Contact)
    if search:
        pattern = like_pattern(search)
        query = query.where(contact_matches(pattern))
    if request.args.get("opted_out") == "1":
        query = query.where(Contact.opted_out.is_(True))
    if before:
        query = query.where(Contact.id < before)
    rows = list(db.session.scalars(query.order_by(Contact.id.desc()).limit(PAGE_SIZE)))
    older_url = None
    if len(rows) == PAGE_SIZE:
        older_url = url_for(
            "admin.contacts", q=search or None, opted_out=request.args.get("opted_out"), before=rows[-1].id
        )
    return render_template(
        "admin/contacts.html",
        contacts=rows,
        search=search,
        older_url=older_url,
        only_opted_out=request.args.get("opted_out") == "1",
    )


def find(phone: str) -> Contact:
    contact = db.session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is None:
        abort(404)
    return contact


def back_to(contact: Contact):
    return redirect(url_for("admin.contact", phone=contact.phone))


@bp.get("/contacts/<phone>")
def contact(phone: str):
    contact = find(phone)
    history = list(
        db.session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.contact_id == contact.id)
            .order_by(ConsentEvent.id.desc())
            .limit(200)
        )
    )
    threads = list(
        db.session.scalars(
            select(Conversation)
            .where(Conversation.contact_id == contact.id)
            .order_by(Conversation.last_message_at.desc())
        )
    )
    return render_template(
        "admin/contact.html",
        contact=contact,
        history=history,
        threads=threads,
        notice=opted_out_notice(contact),
    )


@bp.post("/contacts/<phone>/name")
def contact_name(phone: str):
    contact = find(phone)
    name = " ".join(request.form.get("name", "").split())
    if len(name) > MAX_NAME:
        flash(f"A name may have at most {MAX_NAME} characters.", "error")
        return back_to(contact)
    contact.name = name or None
    db.session.commit()
    flash("Name saved." if name else "Name removed.", "info")
    return back_to(contact)


def change_consent(contact: Contact, action: str, reason: str) -> bool:
    change = consent.opt_out if action == "opt_out" else consent.opt_in
    return change(contact, source="agent", reason=reason or None, actor=current_user.email)


def read_consent_form() -> tuple[str, str, str | None]:
    action = request.form.get("action", "")
    reason = request.form.get("reason", "").strip()
    if action not in ("opt_out", "opt_in"):
        return action, reason, "Choose opt out or opt in."
    if not reason:
        return action, reason, "Give a reason (it goes into the consent log)."
    if len(reason) > MAX_REASON:
        return action, reason, f"The reason may have at most {MAX_REASON} characters."
    return action, reason, None


@bp.post("/contacts/<phone>/consent")
def contact_consent(phone: str):
    contact = find(phone)
    action, reason, problem = read_consent_form()
    if problem:
        flash(problem, "error")
        return back_to(contact)
    changed = change_consent(contact, action, reason)
    db.session.commit()
    if not changed:
        state = "opted out" if action == "opt_out" else "opted in"
        flash(f"Nothing changed: the contact was already {state}.", "info")
    else:
        flash(
            "Opted out; queued messages to this contact were cancelled."
            if action == "opt_out"
            else "Opted in again.",
            "info",
        )
    return back_to(contact)


@bp.post("/contacts/opt-out")
def contact_opt_out_number():
    """Opt out a number that asked by other means (a call, an email), even if it never texted."""
    try:
        phone = normalize_e164(request.form.get("phone", ""), "phone")
    except InvalidNumber as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.contacts"))
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON:
        flash(f"Give a reason (at most {MAX_REASON} characters; it goes into the consent log).", "error")
        return redirect(url_for("admin.contacts"))
    contact = get_or_create_contact(phone)
    changed = change_consent(contact, "opt_out", reason)
    db.session.commit()
    flash(f"{phone} opted out." if changed else f"{phone} was already opted out.", "info")
    return back_to(contact)
