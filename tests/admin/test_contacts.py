"""Contacts, manual opt-out / opt-in with the consent log, and the CSV export's formula guard."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from app.admin.consent_log import spreadsheet_safe
from app.consent.models import ConsentEvent
from app.conversations.models import Contact, Message
from app.extensions import db

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"


def contact(query, phone: str) -> Contact:
    def load():
        row = db.session.scalar(select(Contact).where(Contact.phone == phone))
        db.session.expunge(row)
        return row

    return query(load)


def events(query) -> list[tuple]:
    return query(
        lambda: [
            (e.action, e.source, e.actor, e.reason)
            for e in db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))
        ]
    )


def test_list_and_search(desk, make):
    make("+14155550101", [("inbound", "hi")], name="Ana Lopez")
    make("+14155550102", [("inbound", "STOP")], name="Bob", opted_out=True)
    html = desk.html("/admin/contacts")
    assert "Ana Lopez" in html and "+14155550102" in html and "opted out" in html
    assert "Bob" not in desk.html("/admin/contacts?q=lopez")
    assert "Ana Lopez" not in desk.html("/admin/contacts?q=%2B14155550102")
    only = desk.html("/admin/contacts?opted_out=1")
    assert "Bob" in only and "Ana Lopez" not in only


def test_hostile_names_and_messages_are_escaped(desk, make, query):
    make("+14155550101", [("inbound", XSS_SCRIPT)], name=XSS_IMG)
    for html in (
        desk.html("/admin/contacts"),
        desk.html("/admin/contacts?q=img"),
        desk.html("/admin/contacts/+14155550101"),
    ):
        assert XSS_IMG not in html and XSS_SCRIPT not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_edit_name(desk, make, query):
    make("+14155550101", [("inbound", "hi")])
    desk.get("/admin/contacts/+14155550101")
    response = desk.post(
        "/admin/contacts/+14155550101/name", {"name": "  Ana   Lopez "}, follow_redirects=True
    )
    assert "Name saved." in response.text
    assert contact(query, "+14155550101").name == "Ana Lopez"
    desk.post("/admin/contacts/+14155550101/name", {"name": ""})
    assert contact(query, "+14155550101").name is None
    assert desk.client.get("/admin/contacts/+14155550999").status_code == 404


def test_manual_opt_out_and_opt_in_write_the_consent_log(desk, make, query):
    cid = make("+14155550101", [("inbound", "hi")])
    page = "/admin/contacts/+14155550101"
    desk.get(page)

    def queue():
        from app.conversations.models import Conversation
        from app.conversations.service import queue_outbound

        queue_outbound(db.session.get(Conversation, cid), "promo", source="agent")
        db.session.commit()

    query(queue)
    refused = desk.post(f"{page}/consent", {"action": "opt_out", "reason": ""}, follow_redirects=True)
    assert "Give a reason" in refused.text and contact(query, "+14155550101").opted_out is False
    done = desk.post(
        f"{page}/consent", {"action": "opt_out", "reason": "Asked by phone"}, follow_redirects=True
    )
    assert "Opted out" in done.text
    assert contact(query, "+14155550101").opted_out is True
    assert "This contact opted out (opted out by agent@example.com)" in done.text
    cancelled = query(lambda: db.session.scalar(select(Message).where(Message.body == "promo")).status)
    assert cancelled == "failed"  # queued messages are cancelled
    desk.post(f"{page}/consent", {"action": "opt_in", "reason": "Wrote in to ask"})
    assert contact(query, "+14155550101").opted_out is False
    assert events(query) == [
        ("opt_out", "agent", "agent@example.com", "Asked by phone"),
        ("opt_in", "agent", "agent@example.com", "Wrote in to ask"),
    ]
    log = desk.html("/admin/consent")
    assert "Asked by phone" in log and "Wrote in to ask" in log and "agent@example.com" in log


def test_opt_out_a_number_that_never_texted(desk, query):
    desk.get("/admin/contacts")
    bad = desk.post("/admin/contacts/opt-out", {"phone": "555", "reason": "x"}, follow_redirects=True)
    assert "E.164" in bad.text
    desk.post("/admin/contacts/opt-out", {"phone": "+14155550177", "reason": "Email request"})
    assert contact(query, "+14155550177").opted_out is True
    assert events(query) == [("opt_out", "agent", "agent@example.com", "Email request")]


def test_consent_csv_escapes_formulas(desk, make, query):
    make("+14155550101", [("inbound", "hi")], name='=HYPERLINK("http://evil.example","click")')
    desk.get("/admin/contacts/+14155550101")
    desk.post(
        "/admin/contacts/+14155550101/consent", {"action": "opt_out", "reason": "@SUM(1+1)*cmd|' /C calc'!A0"}
    )
    desk.post("/admin/contacts/+14155550101/consent", {"action": "opt_in", "reason": "-2+3"})
    response = desk.client.get("/admin/consent.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["time", "phone", "name", "action", "source", "actor", "reason", "message"]
    assert rows[1][1] == "+14155550101"  # a valid E.164 number is quoted, not prefixed
    assert rows[1][2] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[1][6] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert rows[2][6] == "'-2+3"
    assert rows[1][3:6] == ["opt_out", "agent", "agent@example.com"]


def test_spreadsheet_safe():
    assert [spreadsheet_safe(v) for v in ("=1", "+1", "-1", "@x", "\tx", "\rx", "plain", None, 5)] == [
        "'=1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "'\rx",
        "plain",
        "",
        "5",
    ]
    assert spreadsheet_safe("+13055550203") == "+13055550203"
    assert [spreadsheet_safe(v) for v in ("+1305555020", "+13055550203 ", "+1305555020=1", "+0123")] == [
        "'+1305555020",
        "'+13055550203 ",
        "'+1305555020=1",
        "'+0123",
    ]
