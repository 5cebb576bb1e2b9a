"""One error shape and one code scheme across /api/v1, and hostile input that must be a 4xx.

Every answer here is JSON `{"error": {"code", "message"}}`; codes are Twilio's where Twilio has
one (20404 not found, 21617 too long, ...), one word otherwise (README, "API error codes").
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import OUR

TO = "+14155550123"
HUGE = "144756757483453474801520214016"


def error_of(resp) -> tuple[int, str, str]:
    assert resp.content_type == "application/json", (resp.status_code, resp.get_data(as_text=True)[:200])
    error = resp.get_json()["error"]
    assert set(error) == {"code", "message"} and isinstance(error["code"], str) and error["message"]
    return resp.status_code, error["code"], error["message"]


def raw(api, method: str, path: str, body: str | bytes, content_type: str = "application/json"):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return api(method, path, data=data, content_type=content_type)


@pytest.fixture
def conversation_id(api) -> int:
    resp = api("POST", "/api/v1/messages", json={"to": TO, "from": OUR, "body": "hi"})
    return resp.get_json()["conversation_id"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/", 404, "20404"),
        ("GET", "/api/v1", 404, "20404"),
        ("GET", "/api/v1/nothing/here", 404, "20404"),
        ("PUT", "/api/v1/messages", 405, "method_not_allowed"),
        ("PATCH", "/api/v1/conversations", 405, "method_not_allowed"),
        ("GET", "/api/v1/messages/SMunknown", 404, "20404"),
        ("GET", "/api/v1/conversations/999", 404, "20404"),
        ("GET", "/api/v1/rules/999", 404, "20404"),
        ("GET", "/api/v1/campaigns/999", 404, "20404"),
        ("GET", "/api/v1/contacts/+14155550999", 404, "20404"),
    ],
)
def test_routing_and_not_found_answer_json_with_one_code(api, method, path, status, code):
    resp = api(method, path)
    assert error_of(resp)[:2] == (status, code)
    if status == 405:
        assert "GET" in resp.headers["Allow"]


@pytest.mark.parametrize(
    "ident", [HUGE, "2147483648", "-1", "-0", "1e3", "0x10", "%00", "1%00", "%ED%A0%80", "١"]
)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/api/v1/conversations/{}"),
        ("GET", "/api/v1/conversations/{}/messages"),
        ("POST", "/api/v1/conversations/{}/messages"),
        ("GET", "/api/v1/rules/{}"),
        ("PUT", "/api/v1/rules/{}"),
        ("PATCH", "/api/v1/rules/{}"),
        ("DELETE", "/api/v1/rules/{}"),
        ("GET", "/api/v1/campaigns/{}"),
        ("POST", "/api/v1/campaigns/{}/pause"),
        ("POST", "/api/v1/campaigns/{}/resume"),
        ("POST", "/api/v1/campaigns/{}/cancel"),
        ("GET", "/api/v1/messages/{}"),
        ("DELETE", "/api/v1/messages/{}"),
    ],
)
def test_out_of_range_ids_are_404_on_every_id_route(api, method, template, ident):
    resp = api(method, template.format(ident), json={"body": "x"} if method != "GET" else None)
    assert error_of(resp)[:2] == (404, "20404")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/messages", {"page": "Infinity"}),
        ("/api/v1/messages", {"page": "NaN"}),
        ("/api/v1/messages", {"page": HUGE}),
        ("/api/v1/messages", {"page": "1\x00"}),
        ("/api/v1/messages", {"page_size": "１０"}),
        ("/api/v1/messages", {"page": " 5"}),
        ("/api/v1/messages", {"status": "queued\x00"}),
        ("/api/v1/conversations", {"cursor": "Infinity"}),
        ("/api/v1/conversations", {"cursor": "\x00"}),
        ("/api/v1/conversations", {"limit": "NaN"}),
        ("/api/v1/conversations/{cid}/messages", {"after": "Infinity"}),
        ("/api/v1/conversations/{cid}/messages", {"after": HUGE}),
        ("/api/v1/conversations/{cid}/messages", {"after": "-1"}),
        ("/api/v1/conversations/{cid}/messages", {"after": "2147483648"}),
    ],
)
def test_bad_paging_values_are_400(api, conversation_id, path, params):
    resp = api("GET", path.format(cid=conversation_id), query_string=params)
    assert error_of(resp)[:2] == (400, "invalid_field")


@pytest.mark.parametrize(
    "cursor_payload",
    [
        '["2026-01-01T00:00:00Z", 144756757483453474801520214016]',
        '["2026-01-01T00:00:00Z", -1]',
        '["0001-01-01T00:00:00+14:00", 1]',
        '["2026-01-01T00:00:00Z", NaN]',
        '["2026-01-01T00:00:00Z", Infinity]',
        '["\\u0000", 1]',
        '["\\ud800", 1]',
        "[" * 5000,
    ],
)
def test_forged_cursors_are_400(api, cursor_payload):
    import base64

    cursor = base64.urlsafe_b64encode(cursor_payload.encode()).decode().rstrip("=")
    resp = api("GET", "/api/v1/conversations", query_string={"cursor": cursor})
    assert error_of(resp)[:2] == (400, "invalid_field")


MESSAGE = '{{"to": "{to}", "from": "{our}", "body": {body}}}'


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ('"hi", "validity_period": Infinity', "Infinity"),
        ('"hi", "validity_period": NaN', "NaN"),
        ('"hi", "validity_period": -Infinity', "Infinity"),
        ('"hi", "validity_period": 1e400', "range"),
        ('"\\ud800"', "surrogate"),
        ('"a\\udfffb"', "surrogate"),
        ('"a\\u0000b"', "NUL"),
        ('"hi", "media_url": ["https://x.com/\\u0000"]', "NUL"),
        ('"hi", "x\\u0000": 1', "NUL"),
        ('"hi", "validity_period": ' + "9" * 5000, ""),
        ('"hi", "deep": ' + "[" * 2000 + "]" * 2000, "deep"),
    ],
)
def test_hostile_json_bodies_are_400(api, body, mentions):
    resp = raw(api, "POST", "/api/v1/messages", MESSAGE.format(to=TO, our=OUR, body=body))
    status, code, message = error_of(resp)
    assert (status, code) == (400, "invalid_json")
    assert mentions in message


@pytest.mark.parametrize(
    "payload", [b"\xed\xa0\x80", b'{"body": "\xff"}', b"", b"   ", b"[]", b"null", b'"x"']
)
def test_undecodable_or_non_object_bodies_are_400(api, payload):
    assert error_of(raw(api, "POST", "/api/v1/messages", payload))[:2] == (400, "invalid_json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/messages"),
        ("POST", "/api/v1/conversations/{cid}/messages"),
        ("POST", "/api/v1/rules"),
        ("PUT", "/api/v1/rules/1"),
        ("PATCH", "/api/v1/rules/1"),
        ("POST", "/api/v1/rules/test"),
        ("POST", "/api/v1/campaigns"),
        ("POST", "/api/v1/contacts/+14155550123/opt-out"),
    ],
)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_wrong_content_types_are_415(api, conversation_id, method, path, content_type):
    if "rules/1" in path:
        rule = {"name": "r", "patterns": ["hi"], "reply": "hello"}
        path = f"/api/v1/rules/{api('POST', '/api/v1/rules', json=rule).get_json()['id']}"
    resp = raw(api, method, path.format(cid=conversation_id), '{"body": "x"}', content_type)
    assert error_of(resp)[:2] == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/messages", {"to": TO, "from": OUR, "body": "x", "bogus": 1}),
        ("POST", "/api/v1/messages", {"to": TO, "from": OUR, "body": "x", "To": TO}),
        ("POST", "/api/v1/conversations/{cid}/messages", {"body": "x", "bogus": 1}),
        ("POST", "/api/v1/contacts/+14155550123/opt-in", {"reason": "x", "bogus": 1}),
        ("POST", "/api/v1/contacts/+14155550123/opt-out", {"bogus": 1}),
        ("POST", "/api/v1/rules", {"name": "n", "patterns": ["a"], "reply": "r", "bogus": 1}),
        ("POST", "/api/v1/rules/test", {"from": TO, "to": OUR, "body": "x", "bogus": 1}),
        (
            "POST",
            "/api/v1/campaigns",
            {"name": "n", "from": OUR, "body": "x", "recipients": [TO], "bogus": 1},
        ),
    ],
)
def test_unknown_fields_are_400_naming_them(api, conversation_id, method, path, body):
    status, code, message = error_of(api(method, path.format(cid=conversation_id), json=body))
    assert (status, code) == (400, "20001")
    assert ("'bogus'" in message) or ("'To'" in message)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/messages", {"stauts": "failed"}),
        ("/api/v1/conversations", {"fitler": "open"}),
        ("/api/v1/conversations/{cid}/messages", {"befor": "3"}),
        ("/api/v1/conversations/{cid}", {"x": "1"}),
        ("/api/v1/rules", {"enabled": "true"}),
        ("/api/v1/messages/SMx", {"x": "1"}),
    ],
)
def test_unknown_query_parameters_are_400_naming_them(api, conversation_id, path, params):
    status, code, message = error_of(api("GET", path.format(cid=conversation_id), query_string=params))
    assert (status, code) == (400, "20001")
    assert repr(next(iter(params))) in message


@pytest.mark.parametrize("blank", [" ", "   ", "\n\t ", "\u3000"])
def test_a_blank_body_is_refused_everywhere(api, conversation_id, blank):
    for path, extra in [
        ("/api/v1/messages", {"to": TO, "from": OUR}),
        (f"/api/v1/conversations/{conversation_id}/messages", {}),
        ("/api/v1/campaigns", {"name": "n", "from": OUR, "recipients": [TO]}),
    ]:
        assert error_of(api("POST", path, json={**extra, "body": blank}))[:2] == (400, "21602"), path


def test_too_long_bodies_share_one_code(api, conversation_id):
    # "{" and "€" take two GSM-7 septets each: 800 of them make 11 segments.
    for body in ("x" * 2000, "{" * 800, "€" * 800, "ж" * 671, "x" * 10**5):
        for path, extra in [
            ("/api/v1/messages", {"to": TO, "from": OUR}),
            (f"/api/v1/conversations/{conversation_id}/messages", {}),
            ("/api/v1/campaigns", {"name": "n", "from": OUR, "recipients": [TO]}),
        ]:
            expected = (400, "21617")
            if path == "/api/v1/campaigns" and body.startswith("{"):
                # A campaign's body is a template (README, "Campaigns"), where "{" is syntax: 800
                # of them are not a valid one (too deeply nested), which is refused as such.
                expected = (400, "invalid_template")
            assert error_of(api("POST", path, json={**extra, "body": body}))[:2] == expected, (
                path,
                len(body),
            )


def test_codes_for_numbers_media_and_callbacks(api):
    def code(**fields):
        return error_of(api("POST", "/api/v1/messages", json={"to": TO, "from": OUR, "body": "x", **fields}))[
            :2
        ]

    assert code(to="12345") == (400, "21211")
    assert code(**{"from": "nope"}) == (400, "21212")
    assert code(media_url=["ftp://x.com/a"]) == (400, "21620")
    assert code(media_url=["http://["]) == (400, "21620")
    for url in ("ftp://x.com/cb", "javascript:alert(1)", "http://", "not a url", "https://exa mple.com/"):
        assert code(status_callback=url) == (400, "21609"), url


def test_oversized_body_is_413_json(api):
    resp = raw(api, "POST", "/api/v1/messages", json.dumps({"body": "x" * (2 * 1024 * 1024)}))
    assert error_of(resp)[:2] == (413, "payload_too_large")


def test_not_authenticated_is_json_too(client):
    assert error_of(client.get("/api/v1/messages"))[:2] == (401, "20003")
    assert error_of(client.put("/api/v1/messages"))[0] == 405
