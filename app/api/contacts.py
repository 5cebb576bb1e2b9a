"""/api/v1/contacts/{e164}: a contact and its consent; opt-out and opt-in (source "api")."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from app import errors
from app.api import bp
from app.api.inputs import json_body
from app.consent import service as consent
from app.consent.models import ConsentEvent
from app.conversations.models import Contact
from app.conversations.serialize import contact_json, iso
from app.conversations.service import get_or_create_contact
from app.errors import ApiError
from app.extensions import db
from app.telefonie.numbers import InvalidNumber, normalize_e164


def _phone(value: str) -> str:
    try:
        return normalize_e164(value[:40], "phone")
    except InvalidNumber as exc:
        raise ApiError(400, errors.INVALID_NUMBER, str(exc)) from exc


@bp.get("/contacts/<phone>")
def get_contact(phone: str):
    contact = db.session.scalar(select(Contact).where(Contact.phone == _phone(phone)))
    if contact is None:
        raise ApiError(404, errors.NOT_FOUND, f"no contact {_phone(phone)}")
    events = db.session.scalars(
        select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id)
    )
    return jsonify(
        {
            **contact_json(contact),
            "consent_history": [
                {
                    "action": e.action,
                    "source": e.source,
                    "at": iso(e.created_at),
                    "reason": e.reason,
                    "message": e.message_body,
                }
                for e in events
            ],
        }
    )


@bp.post("/contacts/<phone>/opt-out")
def opt_out(phone: str):
    return _change(phone, consent.opt_out)


@bp.post("/contacts/<phone>/opt-in")
def opt_in(phone: str):
    return _change(phone, consent.opt_in)


def _change(phone: str, action):
    data = json_body(("reason",), optional=True)
    reason = data.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise ApiError(400, errors.INVALID_FIELD, "'reason' must be a string of at most 500 characters")
    contact = get_or_create_contact(_phone(phone))
    changed = action(contact, source="api", reason=reason, actor=f"api-key:{_key_name()}")
    db.session.commit()
    return jsonify({**contact_json(contact), "changed": changed})


def _key_name() -> str:
    from flask import g

    key = getattr(g, "api_key", None)
    return key.name if key is not None else "unknown"
