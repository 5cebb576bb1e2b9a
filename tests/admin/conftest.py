"""Admin fixtures: a signed-in test client that scrapes and sends CSRF tokens, and data builders."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.conversations.models import Contact, Conversation, Message
from app.extensions import db
from app.types import utcnow
from tests.conftest import OUR

PASSWORD = "correct horse battery"
EMAIL = "agent@example.com"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no csrf_token input on the page"
    return match.group(1)


class Desk:
    """The Flask test client as a signed-in agent: post() fetches a page first for its token."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None

    def get(self, url: str, **kw):
        response = self.client.get(url, **kw)
        if response.mimetype == "text/html" and (m := CSRF_INPUT.search(response.get_data(as_text=True))):
            self.token = m.group(1)
        return response

    def post(self, url: str, data: dict | None = None, page: str = "/admin/", **kw):
        if self.token is None:
            self.get(page)
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kw)

    def html(self, url: str) -> str:
        response = self.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)


@pytest.fixture
def agent(app):
    from app.accounts.service import create_user

    with app.app_context():
        user = create_user(EMAIL, PASSWORD, name="Agent")
        db.session.commit()
        user_id = user.id
        db.session.remove()
    return user_id


def sign_in(client, email: str = EMAIL, password: str = PASSWORD):
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.get_data(as_text=True))},
    )


@pytest.fixture
def desk(client, agent) -> Desk:
    response = sign_in(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return Desk(client)


def make_thread(
    phone: str,
    messages: list[tuple[str, str]] = (),
    *,
    name: str | None = None,
    opted_out: bool = False,
    unread: int = 0,
    our: str = OUR,
    minutes_ago: int = 0,
    **conversation_fields,
) -> int:
    """A contact, its conversation and messages (direction, body), written straight to the tables."""
    now = utcnow() - timedelta(minutes=minutes_ago)
    contact = db.session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is None:
        contact = Contact(
            phone=phone, name=name, opted_out=opted_out, opted_out_at=now if opted_out else None
        )
        db.session.add(contact)
        db.session.flush()
    fields = {"status": "open", "flagged": False, "tags": [], **conversation_fields}
    conversation = Conversation(
        our_number=our,
        contact_id=contact.id,
        unread_count=unread,
        last_message_at=now,
        last_message_preview=messages[-1][1][:160] if messages else None,
        **fields,
    )
    db.session.add(conversation)
    db.session.flush()
    for i, (direction, body) in enumerate(messages):
        inbound = direction == "inbound"
        db.session.add(
            Message(
                conversation_id=conversation.id,
                direction=direction,
                status="received" if inbound else "delivered",
                from_number=phone if inbound else our,
                to_number=our if inbound else phone,
                body=body,
                media_urls=[],
                date_created=now - timedelta(seconds=len(messages) - i),
                date_updated=now,
                source="provider" if inbound else "agent",
            )
        )
    db.session.commit()
    return conversation.id


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app):
    def run(fn):
        with app.app_context():
            engine = db.engine
        with StatementCounter(engine) as counter:
            fn()
        return counter

    return run


@pytest.fixture
def make(app):
    """make(phone, [(direction, body), ...], **fields) -> conversation id, in its own app context."""

    def build(*args, **kw) -> int:
        with app.app_context():
            try:
                return make_thread(*args, **kw)
            finally:
                db.session.remove()

    return build


AGENT_EMAIL = "helper@example.com"


def create_account(app, email: str, role: str = "admin", active: bool = True) -> int:
    """A user with PASSWORD and the given role, committed; returns its id."""
    from app.accounts.service import create_user

    with app.app_context():
        user = create_user(email, PASSWORD, name=email.split("@")[0].title())
        user.role = role
        user.active = active
        db.session.commit()
        user_id = user.id
        db.session.remove()
    return user_id


@pytest.fixture
def agent_desk(app, agent) -> Desk:
    """A second client signed in as a user with the role `agent` (the `agent` fixture is the admin)."""
    create_account(app, AGENT_EMAIL, role="agent")
    client = app.test_client()
    response = sign_in(client, AGENT_EMAIL)
    assert response.status_code == 302, response.get_data(as_text=True)
    return Desk(client)
