"""Every admin form needs its CSRF token: a post without it (or with a wrong one) is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.conversations.models import Message
from app.extensions import db


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_form_post_without_its_token_is_refused(desk, make, query, token):
    cid = make("+14155550101", [("inbound", "hi")])
    data = {"body": "no token"} if token is None else {"body": "no token", "csrf_token": token}
    response = desk.client.post(f"/admin/conversations/{cid}/reply", data=data)
    assert response.status_code == 400
    assert "Form refused" in response.text
    assert query(lambda: db.session.scalar(select(Message).where(Message.direction == "outbound"))) is None


@pytest.mark.parametrize(
    "path",
    [
        "/admin/settings",
        "/admin/rules/new",
        "/admin/contacts/opt-out",
        "/admin/settings/keywords",
        "/admin/logout",
        "/admin/rules/try",
    ],
)
def test_other_forms_need_it_too(desk, path):
    assert desk.client.post(path, data={"brand": "x"}).status_code == 400


def test_every_form_on_the_pages_carries_a_token(desk, make):
    cid = make("+14155550101", [("inbound", "hi")], flagged=True)
    desk.get("/admin/rules/new")
    desk.post(
        "/admin/rules/new",
        {"name": "R", "enabled": "on", "priority": "1", "match": "exact", "patterns": "hi", "reply": "yo"},
    )
    for path in [
        "/admin/",
        f"/admin/conversations/{cid}",
        "/admin/rules",
        "/admin/contacts",
        "/admin/contacts/+14155550101",
        "/admin/settings",
        "/admin/rules/new",
    ]:
        html = desk.client.get(path).text
        posts = html.count('method="post"')
        assert posts and html.count('name="csrf_token"') == posts, path
