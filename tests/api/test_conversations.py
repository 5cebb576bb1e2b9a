"""/api/v1/conversations and /api/v1/contacts: paging, filters, replies, consent changes."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from tests.conftest import OUR, inbound_payload, post_signed_webhook


def text_in(client, frm, body="hi", to=OUR):
    assert (
        post_signed_webhook(
            client, "/webhooks/telefonie/inbound", inbound_payload(frm, body, to=to)
        ).status_code
        == 204
    )


def test_newest_activity_first_with_cursor_paging(client, api):
    numbers = [f"+1415555{2000 + i:04d}" for i in range(7)]
    for i, number in enumerate(numbers):
        with freeze_time(f"2026-05-01 10:00:{i:02d}"):
            text_in(client, number)
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api("GET", "/api/v1/conversations", query_string=query).get_json()
        seen += [c["contact"]["phone"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(numbers))


def test_filters_and_search(client, api):
    text_in(client, "+14155552101", "please stop texting me")
    text_in(client, "+14155552102", "where is my parcel?")
    text_in(client, "+14155552103", "STOP")
    flagged = api("GET", "/api/v1/conversations", query_string={"filter": "flagged"}).get_json()
    assert [c["contact"]["phone"] for c in flagged["conversations"]] == ["+14155552101"]
    opted = api("GET", "/api/v1/conversations", query_string={"filter": "opted_out"}).get_json()
    assert [c["contact"]["phone"] for c in opted["conversations"]] == ["+14155552103"]
    found = api("GET", "/api/v1/conversations", query_string={"q": "parcel"}).get_json()
    assert [c["contact"]["phone"] for c in found["conversations"]] == ["+14155552102"]
    for hostile in ("%", "_", "' OR 1=1 --", "\\"):
        assert (
            api("GET", "/api/v1/conversations", query_string={"q": hostile}).get_json()["conversations"] == []
        )
    assert api("GET", "/api/v1/conversations", query_string={"filter": "nope"}).status_code == 400
    assert api("GET", "/api/v1/conversations", query_string={"cursor": "garbage"}).status_code == 400
    assert api("GET", "/api/v1/conversations", query_string={"limit": 1000}).status_code == 400


def test_thread_messages_and_reply(client, api):
    text_in(client, "+14155552201", "first")
    text_in(client, "+14155552201", "second")
    conversation = api("GET", "/api/v1/conversations").get_json()["conversations"][0]
    cid = conversation["id"]
    assert api("GET", f"/api/v1/conversations/{cid}").get_json()["unread_count"] == 2
    reply = api("POST", f"/api/v1/conversations/{cid}/messages", json={"body": "answer"})
    assert reply.status_code == 201
    assert (reply.get_json()["from"], reply.get_json()["to"]) == (OUR, "+14155552201")
    bodies = [m["body"] for m in api("GET", f"/api/v1/conversations/{cid}/messages").get_json()["messages"]]
    assert bodies == ["first", "second", "answer"]
    page = api("GET", f"/api/v1/conversations/{cid}/messages", query_string={"limit": 2}).get_json()
    after = api(
        "GET", f"/api/v1/conversations/{cid}/messages", query_string={"after": page["next_after"]}
    ).get_json()
    assert [m["body"] for m in after["messages"]] == ["answer"]
    assert api("GET", "/api/v1/conversations/999").status_code == 404
    assert api("POST", f"/api/v1/conversations/{cid}/messages", json={"body": ""}).status_code == 400
    assert api("POST", f"/api/v1/conversations/{cid}/messages", json={"body": "{" * 900}).status_code == 400


def test_reply_to_opted_out_is_409(client, api):
    text_in(client, "+14155552301", "STOP")
    cid = api("GET", "/api/v1/conversations").get_json()["conversations"][0]["id"]
    resp = api("POST", f"/api/v1/conversations/{cid}/messages", json={"body": "still there?"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "21610"


def test_contact_opt_out_and_in_through_the_api(client, api):
    number = "+14155552401"
    assert api("GET", f"/api/v1/contacts/{number}").status_code == 404
    out = api("POST", f"/api/v1/contacts/{number}/opt-out", json={"reason": "asked by phone"})
    assert out.status_code == 200 and out.get_json()["opted_out"] is True and out.get_json()["changed"]
    again = api("POST", f"/api/v1/contacts/{number}/opt-out")
    assert again.get_json()["changed"] is False
    send = api("POST", "/api/v1/messages", json={"to": number, "from": OUR, "body": "x"})
    assert send.status_code == 409
    back = api("POST", f"/api/v1/contacts/{number}/opt-in")
    assert back.get_json()["opted_out"] is False
    contact = api("GET", f"/api/v1/contacts/{number}").get_json()
    assert [(e["action"], e["source"], e["reason"]) for e in contact["consent_history"]] == [
        ("opt_out", "api", "asked by phone"),
        ("opt_in", "api", None),
    ]


@pytest.mark.parametrize("phone", ["12345", "+1202555", "abc", "%2B1%27%20OR%201%3D1"])
def test_contact_bad_number_is_400(api, phone):
    resp = api("GET", f"/api/v1/contacts/{phone}")
    assert resp.status_code == 400 and "phone" in resp.get_json()["error"]["message"]


def test_opt_out_reason_validation(api):
    resp = api("POST", "/api/v1/contacts/+14155552501/opt-out", json={"reason": "x" * 501})
    assert resp.status_code == 400


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert (
        doc["openapi"].startswith("3.")
        and "/messages" in doc["paths"]
        and "/rules/test" in doc["paths"]
        and "/campaigns/{id}/pause" in doc["paths"]
    )
