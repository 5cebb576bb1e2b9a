"""The inbound webhook, as a table of cases (RapidPro courier handler tests), plus exactly-once."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select

from app.conversations.models import Contact, Conversation, Message
from app.extensions import db
from tests.conftest import OUR, inbound_payload, post_signed_webhook, signed_headers

PATH = "/webhooks/telefonie/inbound"
CUSTOMER = "+14155550123"


def count_messages(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Message))
        db.session.remove()
        return n


def error_code(resp) -> str | None:
    try:
        return resp.get_json()["error"]["code"]
    except (TypeError, KeyError):
        return None


def _json(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    return raw, signed_headers(raw)


def _form(payload) -> tuple[bytes, dict]:
    raw = urlencode(payload, doseq=True).encode()
    return raw, signed_headers(raw, content_type="application/x-www-form-urlencoded")


def _stale(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    return raw, signed_headers(raw, ts=int(time.time()) - 301)


def _future(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    return raw, signed_headers(raw, ts=int(time.time()) + 301)


def _wrong_secret(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    return raw, signed_headers(raw, secret="whsec_" + "QUJD" * 8)


def _no_signature(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    return raw, {"Content-Type": "application/json"}


def _garbled_signature(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    headers = signed_headers(raw)
    headers["webhook-signature"] = "not-a-signature"
    return raw, headers


def _tampered(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    headers = signed_headers(raw)
    return raw.replace(b"hello", b"HELLO"), headers


def _several_signatures(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    headers = signed_headers(raw)
    headers["webhook-signature"] = "v1,Zm9vYmFy " + headers["webhook-signature"]
    return raw, headers


def _malformed_json(payload) -> tuple[bytes, dict]:
    raw = b'{"id": "x", "from": '
    return raw, signed_headers(raw)


def _json_array(payload) -> tuple[bytes, dict]:
    raw = b"[1, 2]"
    return raw, signed_headers(raw)


def _not_utf8(payload) -> tuple[bytes, dict]:
    raw = b'{"body": "\xff\xfe"}'
    return raw, signed_headers(raw.decode("latin-1").encode("latin-1"))


def _text_plain(payload) -> tuple[bytes, dict]:
    raw = json.dumps(payload).encode()
    return raw, signed_headers(raw, content_type="text/plain")


def _oversize(payload) -> tuple[bytes, dict]:
    raw = json.dumps({**payload, "body": "x" * (65 * 1024)}).encode()
    return raw, signed_headers(raw)


def _with(**changes):
    def build(payload):
        data = {**payload, **changes}
        for key, value in changes.items():
            if value is ...:
                del data[key]
        return _json(data)

    return build


CASES = [
    # name, builder, status, error code, stored
    ("valid json", _json, 204, None, 1),
    ("valid form", _form, 204, None, 1),
    ("several signatures, one good", _several_signatures, 204, None, 1),
    ("unicode body", _with(body="Grüße 👋 ＳＴＯＰ? 你好"), 204, None, 1),
    ("xss body kept as text", _with(body="<script>alert(1)</script>"), 204, None, 1),
    ("sql body kept as text", _with(body="'; DROP TABLE messages; --"), 204, None, 1),
    ("mms with media", _with(body="", media_url=["https://example.com/a.jpg"]), 204, None, 1),
    ("missing signature", _no_signature, 401, "missing_signature", 0),
    ("garbled signature", _garbled_signature, 401, "invalid_signature", 0),
    ("wrong secret", _wrong_secret, 401, "invalid_signature", 0),
    ("tampered body", _tampered, 401, "invalid_signature", 0),
    ("stale timestamp", _stale, 401, "invalid_signature", 0),
    ("future timestamp", _future, 401, "invalid_signature", 0),
    ("malformed json", _malformed_json, 400, "invalid_payload", 0),
    ("json array", _json_array, 400, "invalid_payload", 0),
    ("missing id", _with(id=...), 400, "invalid_payload", 0),
    ("empty id", _with(id=""), 400, "invalid_payload", 0),
    ("id too long", _with(id="x" * 65), 400, "invalid_payload", 0),
    ("missing from", _with(**{"from": ...}), 400, "invalid_payload", 0),
    ("bad from number", _with(**{"from": "0800 FLOWERS"}), 400, "invalid_payload", 0),
    ("bad to number", _with(to="+1202555"), 400, "invalid_payload", 0),
    ("number as integer", _with(to=12025550199), 400, "invalid_payload", 0),
    ("no body and no media", _with(body=""), 400, "invalid_payload", 0),
    ("body not a string", _with(body={"a": 1}), 400, "invalid_payload", 0),
    ("outbound direction", _with(direction="outbound"), 400, "invalid_payload", 0),
    ("unknown status", _with(status="teleported"), 400, "invalid_payload", 0),
    ("ftp media", _with(media_url=["ftp://example.com/a.jpg"]), 400, "invalid_payload", 0),
    ("javascript media", _with(media_url=["javascript:alert(1)"]), 400, "invalid_payload", 0),
    (
        "eleven media",
        _with(media_url=[f"https://e.com/{i}.jpg" for i in range(11)]),
        400,
        "invalid_payload",
        0,
    ),
    ("bad date", _with(date_created="yesterday"), 400, "invalid_payload", 0),
    ("NUL in body", _with(body="a\x00b"), 400, "invalid_payload", 0),
    ("wrong content type", _text_plain, 415, "unsupported_media_type", 0),
    ("oversize", _oversize, 413, "payload_too_large", 0),
]


@pytest.mark.parametrize(("name", "build", "status", "code", "stored"), CASES, ids=[c[0] for c in CASES])
def test_inbound_cases(app, client, name, build, status, code, stored):
    payload = inbound_payload(CUSTOMER, "hello")
    raw, headers = build(payload)
    resp = client.post(PATH, data=raw, headers=headers)
    assert resp.status_code == status, resp.get_data(as_text=True)
    if code:
        assert error_code(resp) == code
        assert resp.get_json()["error"]["message"]
    assert count_messages(app) == stored


def test_stored_fields_and_conversation(app, client):
    payload = inbound_payload(CUSTOMER, "Grüße {€} ✓", media_url=["https://example.com/cat.png"])
    assert post_signed_webhook(client, PATH, payload).status_code == 204
    with app.app_context():
        message = db.session.scalar(select(Message))
        assert message.provider_id == payload["id"]
        assert (message.direction, message.status) == ("inbound", "received")
        assert message.body == "Grüße {€} ✓"
        assert message.media_urls == ["https://example.com/cat.png"]
        assert message.encoding == "UCS-2"
        conversation = db.session.get(Conversation, message.conversation_id)
        assert conversation.our_number == OUR and conversation.contact.phone == CUSTOMER
        assert conversation.unread_count == 1
        assert conversation.last_message_preview == "Grüße {€} ✓"


def test_one_conversation_per_pair(app, client):
    for body, to in (("one", OUR), ("two", OUR), ("three", "+12025550198")):
        assert post_signed_webhook(client, PATH, inbound_payload(CUSTOMER, body, to=to)).status_code == 204
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
        assert db.session.scalar(select(func.count()).select_from(Conversation)) == 2


def test_form_media_repeated(app, client):
    payload = inbound_payload(CUSTOMER, "pics", media_url=["https://e.com/1.jpg", "https://e.com/2.jpg"])
    raw = urlencode(payload, doseq=True).encode()
    resp = client.post(
        PATH, data=raw, headers=signed_headers(raw, content_type="application/x-www-form-urlencoded")
    )
    assert resp.status_code == 204
    with app.app_context():
        assert db.session.scalar(select(Message)).media_urls == ["https://e.com/1.jpg", "https://e.com/2.jpg"]


def test_repeat_is_204_and_stored_once(app, client):
    payload = inbound_payload(CUSTOMER, "hello")
    for _ in range(3):
        assert post_signed_webhook(client, PATH, payload).status_code == 204
    assert count_messages(app) == 1


def test_fifty_concurrent_repeats_store_one_row(app, live_server):
    payload = inbound_payload(CUSTOMER, "hello " + uuid.uuid4().hex)
    raw = json.dumps(payload).encode()

    def post(_):
        return requests.post(
            live_server.url + PATH, data=raw, headers=signed_headers(raw), timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(post, range(50)))
    assert codes == [204] * 50
    assert count_messages(app) == 1


def test_database_down_answers_503_and_stores_nothing(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import app.webhooks as webhooks

    def broken(_msg, **_kw):
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(webhooks, "record_inbound", broken)
    resp = post_signed_webhook(client, PATH, inbound_payload(CUSTOMER, "hello"))
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]
    assert error_code(resp) == "storage_unavailable"
    monkeypatch.undo()
    assert count_messages(app) == 0
