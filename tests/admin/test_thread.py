"""A thread: the chat, replies (and refusals), actions, mark-read, the JSON poll, its SQL cost."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from app.conversations.models import Contact, Conversation, Message, Receipt
from app.extensions import db
from app.types import utcnow

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"


def outbound(query, cid: int) -> list[Message]:
    def load():
        rows = list(
            db.session.scalars(
                select(Message).where(Message.conversation_id == cid, Message.direction == "outbound")
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows

    return query(load)


def conversation(query, cid: int) -> Conversation:
    def load():
        row = db.session.get(Conversation, cid)
        db.session.expunge(row)
        return row

    return query(load)


def test_thread_shows_messages_and_marks_read(desk, make, query):
    cid = make("+14155550101", [("inbound", "Hello there"), ("outbound", "Hi! How can we help?")], unread=3)
    html = desk.html(f"/admin/conversations/{cid}")
    assert "Hello there" in html and "Hi! How can we help?" in html
    assert 'name="body"' in html and "<textarea" in html
    assert "GSM-7 · 1 segment" in html
    assert 'class="status status-delivered"' in html
    assert conversation(query, cid).unread_count == 0


def test_reply_queues_a_message(desk, make, query):
    cid = make("+14155550101", [("inbound", "Are you open today?")])
    page = f"/admin/conversations/{cid}"
    desk.get(page)
    response = desk.post(f"{page}/reply", {"body": "Yes, until 6 pm. Ça va?"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Reply queued." in response.get_data(as_text=True)
    [message] = outbound(query, cid)
    assert message.status == "queued" and message.source == "agent"
    assert message.body == "Yes, until 6 pm. Ça va?"
    assert message.to_number == "+14155550101" and message.from_number == "+12025550199"
    assert conversation(query, cid).last_message_preview == "You: Yes, until 6 pm. Ça va?"


def test_empty_and_too_long_replies_are_refused(desk, make, query):
    cid = make("+14155550101", [("inbound", "hi")])
    page = f"/admin/conversations/{cid}"
    desk.get(page)
    assert "Write a message first." in desk.post(f"{page}/reply", {"body": "  "}, follow_redirects=True).text
    too_long = desk.post(f"{page}/reply", {"body": "€" * 1000}, follow_redirects=True).text
    assert "Not sent:" in too_long and "segments" in too_long
    assert outbound(query, cid) == []


def test_opted_out_contact_cannot_be_replied_to(desk, make, query):
    cid = make("+14155550101", [("inbound", "STOP")], opted_out=True)
    page = f"/admin/conversations/{cid}"
    html = desk.html(page)
    assert re.search(r"<textarea[^>]*name=\"body\"[^>]*\bdisabled\b", html)
    assert re.search(r"<button[^>]*id=\"reply-send\"[^>]*\bdisabled\b", html)
    assert re.search(
        r"This contact opted out \(replied STOP\) on \d{4}-\d\d-\d\d; messages can&#39;t be sent.", html
    )
    forced = desk.post(f"{page}/reply", {"body": "Please come back!"}, follow_redirects=True)
    assert forced.status_code == 200
    assert "This contact opted out (replied STOP)" in forced.text.replace("&#39;", "'")
    assert "Reply queued." not in forced.text
    assert outbound(query, cid) == []


def test_opt_out_by_an_agent_says_so(desk, make, query, agent):
    cid = make("+14155550101", [("inbound", "hi")])

    def opt_out():
        from app.consent.service import opt_out

        opt_out(
            db.session.scalar(select(Contact)),
            source="agent",
            reason="asked by phone",
            actor="boss@example.com",
        )
        db.session.commit()

    query(opt_out)
    assert "opted out by boss@example.com" in desk.html(f"/admin/conversations/{cid}")


def test_hostile_text_is_escaped_in_the_thread(desk, make):
    cid = make("+14155550101", [("inbound", XSS_IMG), ("inbound", XSS_SCRIPT)], name=XSS_IMG)
    html = desk.html(f"/admin/conversations/{cid}")
    assert XSS_IMG not in html and XSS_SCRIPT not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    data = desk.client.get(f"/admin/conversations/{cid}/messages.json").json
    assert [m["body"] for m in data["messages"]] == [XSS_IMG, XSS_SCRIPT]  # JSON; the page uses textContent


def test_media_only_http_links(desk, make, query):
    cid = make("+14155550101", [("inbound", "pics")])

    def add_media():
        message = db.session.scalar(select(Message))
        message.media_urls = [
            "https://cdn.example.com/a.JPG",
            "http://cdn.example.com/doc.pdf",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
        ]
        db.session.commit()

    query(add_media)
    html = desk.html(f"/admin/conversations/{cid}")
    assert '<img src="https://cdn.example.com/a.JPG"' in html
    assert '<a href="http://cdn.example.com/doc.pdf"' in html
    assert 'href="javascript:' not in html and 'src="javascript:' not in html
    assert 'href="data:' not in html and 'src="data:' not in html
    assert 'class="file blocked"' in html


def test_failed_message_shows_error_and_receipts_on_demand(desk, make, query):
    cid = make("+14155550101", [("inbound", "hi"), ("outbound", "sorry")])

    def fail():
        message = db.session.scalar(select(Message).where(Message.direction == "outbound"))
        message.status, message.error_code, message.error_message = (
            "undelivered",
            30003,
            "Unreachable handset",
        )
        message.provider_id = "TF123"
        db.session.add_all(
            [
                Receipt(provider_id="TF123", message_id=message.id, status="sent", applied=True, payload={}),
                Receipt(
                    provider_id="TF123",
                    message_id=message.id,
                    status="undelivered",
                    error_code=30003,
                    error_message="Unreachable handset",
                    applied=True,
                    payload={},
                ),
            ]
        )
        db.session.commit()
        return message.id

    message_id = query(fail)
    html = desk.html(f"/admin/conversations/{cid}")
    assert "undelivered: 30003 Unreachable handset" in html
    assert f'data-url="/admin/messages/{message_id}/receipts.json"' in html
    data = desk.client.get(f"/admin/messages/{message_id}/receipts.json").json
    assert [r["status"] for r in data["receipts"]] == ["sent", "undelivered"]
    assert data["receipts"][1]["error"] == "30003 Unreachable handset"
    assert desk.client.get("/admin/messages/999999/receipts.json").status_code == 404


def test_poll_returns_new_messages_statuses_and_state(desk, make, query):
    cid = make("+14155550101", [("inbound", "one"), ("outbound", "two")])
    data = desk.client.get(f"/admin/conversations/{cid}/messages.json").json
    ids = [m["id"] for m in data["messages"]]
    assert [m["body"] for m in data["messages"]] == ["one", "two"]
    assert [s["status"] for s in data["statuses"]] == ["delivered"]
    assert data["conversation"] == {"status": "open", "flagged": False, "opted_out": False, "notice": None}
    assert desk.client.get(f"/admin/conversations/{cid}/messages.json?after={ids[-1]}").json["messages"] == []

    def inbound_arrives():
        db.session.add(
            Message(
                conversation_id=cid,
                direction="inbound",
                status="received",
                from_number="+14155550101",
                to_number="+12025550199",
                body="three",
                media_urls=[],
                date_created=utcnow(),
                date_updated=utcnow(),
            )
        )
        db.session.execute(update(Conversation).values(unread_count=1))
        db.session.commit()

    query(inbound_arrives)
    data = desk.client.get(f"/admin/conversations/{cid}/messages.json?after={ids[-1]}").json
    assert [m["body"] for m in data["messages"]] == ["three"]
    assert conversation(query, cid).unread_count == 0  # the agent is looking at it


def test_assign_tag_close_reopen_unflag(desk, make, query, agent):
    cid = make("+14155550101", [("inbound", "hi")], flagged=True, flag_reason="reads like a wish to stop")
    page = f"/admin/conversations/{cid}"
    desk.get(page)
    assert (
        "Assigned to agent@example.com."
        in desk.post(f"{page}/assign", {"user_id": str(agent)}, follow_redirects=True).text
    )
    assert conversation(query, cid).assignee_id == agent
    desk.post(f"{page}/tags", {"tags": "billing,  vip , billing"})
    assert conversation(query, cid).tags == ["billing", "vip"]
    desk.post(f"{page}/close")
    assert conversation(query, cid).status == "closed"
    assert "Reopen" in desk.html(page)
    desk.post(f"{page}/reopen")
    assert conversation(query, cid).status == "open"
    desk.post(f"{page}/unflag")
    assert conversation(query, cid).flagged is False
    desk.post(f"{page}/assign", {"user_id": ""})
    assert conversation(query, cid).assignee_id is None
    assert "No such agent." in desk.post(f"{page}/assign", {"user_id": "9999"}, follow_redirects=True).text
    assert desk.client.get("/admin/conversations/999999").status_code == 404


def test_thread_sql_statements_do_not_grow_with_messages(desk, make, count_statements):
    few = make("+14155550101", [("inbound" if i % 2 else "outbound", f"m{i}") for i in range(5)])
    many = make("+14155550102", [("inbound" if i % 2 else "outbound", f"m{i}") for i in range(50)])
    counts = {}
    for name, cid in (("few", few), ("many", many)):
        counts[name] = count_statements(lambda cid=cid: desk.get(f"/admin/conversations/{cid}"))
        counts[name + "_json"] = count_statements(
            lambda cid=cid: desk.client.get(f"/admin/conversations/{cid}/messages.json")
        )
    assert counts["few"].count == counts["many"].count, counts["many"].statements
    assert counts["few_json"].count == counts["many_json"].count
    # user, conversation, messages, agents, notes, thread events (+ opt-out reason when it applies)
    assert counts["many"].count <= 7, counts["many"].statements
