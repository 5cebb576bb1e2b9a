"""/api/v1/messages: the Telefonie-compatible operations, keys, and hostile input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.conversations.models import Message
from app.extensions import db
from tests.conftest import OUR

TO = "+14155550123"


def send(api, **fields):
    body = {"to": TO, "from": OUR, "body": "hello", **fields}
    return api("POST", "/api/v1/messages", json=body)


def test_requires_a_valid_key(client, api_key):
    for headers in ({}, {"X-API-Key": "sk_wrong"}, {"X-API-Key": "x" * 5000}, {"X-API-Key": "' OR 1=1 --"}):
        resp = client.get("/api/v1/messages", headers=headers)
        assert resp.status_code == 401
        assert resp.get_json()["error"]["code"] == "20003"


def test_send_queues_and_answers_the_message(api):
    resp = send(api, body="Grüße {} ✓", media_url=["https://example.com/a.png"], validity_period=600)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    data = resp.get_json()
    assert data["status"] == "queued" and data["direction"] == "outbound"
    assert (data["from"], data["to"], data["body"]) == (OUR, TO, "Grüße {} ✓")
    assert data["encoding"] == "UCS-2" and data["num_segments"] == 1
    assert data["num_media"] == 1 and data["media_url"] == ["https://example.com/a.png"]
    assert isinstance(data["conversation_id"], int)
    assert data["id"].startswith("SM") and data["date_created"].endswith("Z")
    assert "error_code" not in data  # the seed schema has no nulls: absent fields are left out


def test_get_list_delete(api):
    ids = [send(api, body=f"m{i}").get_json()["id"] for i in range(3)]
    assert api("GET", f"/api/v1/messages/{ids[0]}").get_json()["body"] == "m0"
    listing = api("GET", "/api/v1/messages", query_string={"page_size": 2}).get_json()
    assert listing["total"] == 3 and [m["body"] for m in listing["messages"]] == ["m2", "m1"]
    page2 = api("GET", "/api/v1/messages", query_string={"page_size": 2, "page": 2}).get_json()
    assert [m["body"] for m in page2["messages"]] == ["m0"]
    assert api("GET", "/api/v1/messages", query_string={"direction": "inbound"}).get_json()["total"] == 0
    assert (
        api("GET", "/api/v1/messages", query_string={"to": TO, "status": "queued"}).get_json()["total"] == 3
    )
    assert api("GET", "/api/v1/messages", query_string={"from": TO}).get_json()["total"] == 0
    assert api("DELETE", f"/api/v1/messages/{ids[0]}").status_code == 204
    assert api("GET", f"/api/v1/messages/{ids[0]}").status_code == 404
    assert api("DELETE", f"/api/v1/messages/{ids[0]}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "status", "mentions"),
    [
        ({"to": "12345"}, 400, "'to'"),
        ({"to": "+1202555"}, 400, "'to'"),
        ({"from": "not a number"}, 400, "'from'"),
        ({"to": None}, 400, "'to'"),
        ({"to": ["+14155550123"]}, 400, "'to'"),
        ({"body": ""}, 400, "'body'"),
        ({"body": 42}, 400, "'body'"),
        ({"body": "x" * 1601}, 400, "'body'"),
        ({"body": "{" * 800}, 400, "segments"),
        ({"body": "a\x00b"}, 400, "'body'"),
        ({"media_url": ["ftp://x.com/a"]}, 400, "media_url"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"media_url": [f"https://x.com/{i}" for i in range(11)]}, 400, "media_url"),
        ({"validity_period": "soon"}, 400, "validity_period"),
        ({"validity_period": True}, 400, "validity_period"),
    ],
)
def test_send_rejects_bad_input(app, api, fields, status, mentions):
    resp = send(api, **fields)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert mentions in resp.get_json()["error"]["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_send_rejects_non_json(api):
    assert api("POST", "/api/v1/messages", data="to=+1", content_type="text/plain").status_code == 415
    resp = api("POST", "/api/v1/messages", data="{not json", content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_json"
    assert api("POST", "/api/v1/messages", json=[1, 2]).status_code == 400


def test_hostile_text_is_stored_verbatim(api):
    body = "<script>alert(1)</script> '; DROP TABLE messages; -- 👩‍👩‍👧 ＳＴＯＰ"
    mid = send(api, body=body).get_json()["id"]
    assert api("GET", f"/api/v1/messages/{mid}").get_json()["body"] == body


@pytest.mark.parametrize(
    "query",
    [
        {"page": 0},
        {"page": "x"},
        {"page_size": 101},
        {"page_size": 0},
        {"direction": "sideways"},
        {"status": "teleported"},
        {"to": "' OR 1=1 --"},
    ],
)
def test_list_rejects_bad_filters(api, query):
    resp = api("GET", "/api/v1/messages", query_string=query)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"]


def test_unknown_id_is_404(api):
    for mid in ("SMnope", "x" * 500, "' OR 1=1 --", "%00"):
        assert api("GET", f"/api/v1/messages/{mid}").status_code == 404


def test_same_request_twice_is_two_messages(api):
    """Like Telefonie, a POST is not idempotent: two sends are two messages."""
    assert send(api).status_code == 201
    assert send(api).status_code == 201
    assert api("GET", "/api/v1/messages").get_json()["total"] == 2
