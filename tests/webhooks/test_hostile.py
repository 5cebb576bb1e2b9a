"""Issue 11, finding 4: signed but hostile webhooks answer 400, never 500 (on SQLite and PostgreSQL).

The outside review's cases as a table, then property-based tests (hypothesis) over the payload
parsers and through the signed endpoints: whatever the payload, the answer is 204 or 400.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.conversations.models import Message, Receipt
from app.extensions import db
from app.telefonie.schema import PayloadError, check_values, load_json, parse_inbound, parse_status
from tests.conftest import OUR, post_signed_webhook, signed_headers

INBOUND = "/webhooks/telefonie/inbound"
STATUS = "/webhooks/telefonie/status"
CUSTOMER = "+14155550123"


def inbound(**fields) -> dict:
    return {"id": "TF" + uuid.uuid4().hex, "direction": "inbound", "status": "received",
            "from": CUSTOMER, "to": OUR, "body": "hello", **fields}  # fmt: skip


def status(**fields) -> dict:
    return {"id": "PR" + uuid.uuid4().hex, "direction": "outbound", "status": "sent",
            "from": OUR, "to": CUSTOMER, **fields}  # fmt: skip


def raw(payload: dict, **swap: str) -> str:
    """JSON text with some values replaced by raw JSON (NaN, 1e400, escapes json.dumps won't write)."""
    text = json.dumps(payload)
    for key, value in swap.items():
        old = f"{json.dumps(key)}: {json.dumps(payload[key])}"
        assert old in text
        text = text.replace(old, f"{json.dumps(key)}: {value}", 1)
    return text


def nested(depth: int) -> str:
    head = json.dumps({"id": "TFdeep", "from": CUSTOMER, "to": OUR, "body": "hi"})[:-1]
    return f'{head}, "x": {"[" * depth}1{"]" * depth}}}'


REVIEW_CASES = [
    ("status is a list", INBOUND, json.dumps(inbound(status=[]))),
    (
        "status is an object",
        INBOUND,
        json.dumps(inbound(status={})),
    ),
    ("lone surrogate in body", INBOUND, raw(inbound(body="X"), body='"a\\ud800b"')),
    ("lone low surrogate in from", INBOUND, raw(inbound(), **{"from": '"\\udc00"'})),
    ("surrogate in an extra key", INBOUND, '{"\\ud800": 1, ' + json.dumps(inbound())[1:]),
    ("date before year 1 in UTC", INBOUND, json.dumps(inbound(date_created="0001-01-01T00:00:00+14:00"))),
    ("date after year 9999 in UTC", INBOUND, json.dumps(inbound(date_created="9999-12-31T23:59:59-14:00"))),
    ("num_segments superscript", STATUS, json.dumps(status(num_segments="²"))),
    ("num_segments 5000 digits", STATUS, json.dumps(status(num_segments="9" * 5000))),
    ("num_segments 5000-digit number", STATUS, raw(status(num_segments=1), num_segments="9" * 5000)),
    ("error_code arabic digits", STATUS, json.dumps(status(error_code="٣٠٠٠٣"))),
    ("nested 1000 deep", INBOUND, nested(1000)),
    ("nested 100000 deep", INBOUND, nested(20000)),
    ("nested 30 deep", STATUS, raw(status(extra=1), extra="[" * 30 + "]" * 30)),
    ("NUL in status payload", STATUS, json.dumps(status(error_message="a\x00b"))),
    ("NUL in an extra status field", STATUS, json.dumps(status(note="a\x00b"))),
    ("NUL in a key", STATUS, json.dumps({**status(), "k\x00": 1})),
    ("NaN in status payload", STATUS, raw(status(price=1), price="NaN")),
    ("Infinity in status payload", STATUS, raw(status(extra=1), extra="-Infinity")),
    ("1e400 in status payload", STATUS, raw(status(extra=1), extra="1e400")),
    ("1e400 as price", STATUS, raw(status(price=1), price="1e400")),
    ("media_url unclosed IPv6", INBOUND, json.dumps(inbound(media_url=["http://[::1"]))),
    ("JSON array", INBOUND, "[1, 2]"),
    ("JSON string", STATUS, '"x"'),
    ("not JSON", STATUS, "{"),
]


def count(app, model) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
        return n


@pytest.mark.parametrize(("name", "path", "body"), REVIEW_CASES, ids=[c[0] for c in REVIEW_CASES])
def test_the_reviews_hostile_payloads_answer_400(app, client, name, path, body):
    resp = post_signed_webhook(client, path, body.encode())
    assert resp.status_code == 400, (name, resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.get_json()["error"]["code"] == "invalid_payload"
    assert count(app, Message) == 0 and count(app, Receipt) == 0


@pytest.mark.parametrize(
    "form",
    [
        {"id": "TF1", "from": CUSTOMER, "to": OUR, "body": "a\x00b"},
        {"id": "TF1", "from": CUSTOMER, "to": OUR, "body": "hi", "date_created": "0001-01-01T00:00:00+14:00"},
        {"id": "TF1", "from": CUSTOMER, "to": OUR, "body": "hi", "media_url": "http://["},
    ],
)
def test_hostile_forms_answer_400(client, form):
    body = urlencode(form).encode()
    resp = client.post(INBOUND, data=body, headers=signed_headers(body, "application/x-www-form-urlencoded"))
    assert resp.status_code == 400


# --- property-based: the parsers ---------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(exclude_categories=[]), max_size=12)
HOSTILE_STRINGS = st.sampled_from(
    ["²", "9" * 5000, "-1", " 7 ", "1e3", "0001-01-01T00:00:00+14:00", "2026-11-29T03:00:00Z",
     "9999-12-31T23:59:59-14:00", "http://[", "https://example.com/a.png", "\ud800", "\x00",
     "received", "queued", "delivered", "inbound", "outbound", CUSTOMER, OUR, "+1", ""]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    HOSTILE_STRINGS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
FIELDS = st.sampled_from(
    ["id", "direction", "status", "from", "to", "body", "media_url", "date_created", "date_sent",
     "date_updated", "num_segments", "error_code", "error_message", "price", "price_unit"]
)  # fmt: skip
CHANGES = st.dictionaries(st.one_of(FIELDS, TEXT), VALUES, max_size=4)


@settings(max_examples=400, deadline=None)
@given(changes=CHANGES, base=st.sampled_from([inbound, status]))
def test_the_parsers_raise_only_payload_errors(changes, base):
    data = {**base(), **changes}
    for parse in (parse_inbound, parse_status):
        try:
            check_values(data)
            parse(data)
        except PayloadError:
            pass


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from('{}[]":,0123456789.eE-+ntrufalsNIy\\ud800x'), max_size=40))
def test_load_json_raises_only_payload_errors(text):
    try:
        check_values(load_json(text))
    except PayloadError:
        pass


# --- property-based: through the signed endpoints, on this test run's database ------------------

ENDPOINT = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@ENDPOINT
@given(changes=CHANGES, path=st.sampled_from([INBOUND, STATUS]))
def test_signed_json_webhooks_answer_204_or_400(client, changes, path):
    payload = {**(inbound() if path == INBOUND else status()), **changes}
    body = json.dumps(payload, allow_nan=True).encode()  # NaN/Infinity written as JS would
    resp = post_signed_webhook(client, path, body)
    assert resp.status_code in (204, 400), (resp.status_code, resp.get_data(as_text=True)[:300])


FORM_VALUES = st.one_of(TEXT, HOSTILE_STRINGS.filter(lambda s: "\ud800" not in s))


@ENDPOINT
@given(
    changes=st.dictionaries(st.one_of(FIELDS, TEXT), FORM_VALUES, max_size=4),
    path=st.sampled_from([INBOUND, STATUS]),
)
def test_signed_form_webhooks_answer_204_or_400(client, changes, path):
    payload = {**(inbound() if path == INBOUND else status()), **changes}
    pairs = [
        (k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in payload.items()
    ]
    body = urlencode(pairs).encode()
    resp = client.post(path, data=body, headers=signed_headers(body, "application/x-www-form-urlencoded"))
    assert resp.status_code in (204, 400), (resp.status_code, resp.get_data(as_text=True)[:300])
