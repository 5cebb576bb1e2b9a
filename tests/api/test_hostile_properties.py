"""Property-based: whatever bytes, JSON or query string an API client sends, the answer is a JSON
success or a JSON 4xx, never a 5xx (issue 11, finding 4: Infinity, lone surrogates, NUL, huge
integers in ids, cursors, paging and bodies)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import OUR

HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["Infinity", "-Infinity", "NaN", "1e400", "\x00", "\ud800", "\udfff", "9" * 5000, "-1", "", " "]
    ),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "to": st.one_of(st.just("+14155550123"), JSON_VALUES),
        "from": st.one_of(st.just(OUR), JSON_VALUES),
        "body": JSON_VALUES,
        "media_url": JSON_VALUES,
        "status_callback": JSON_VALUES,
        "validity_period": JSON_VALUES,
    },
)
SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def _check(resp) -> None:
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
    assert resp.content_type == "application/json" or resp.status_code == 204
    if resp.status_code >= 400:
        assert set(resp.get_json()["error"]) == {"code", "message"}


@SETTINGS
@given(fields=FIELDS)
def test_any_send_body_is_answered_without_a_server_error(api, fields):
    raw = json.dumps(fields, allow_nan=True).encode("utf-8", "surrogatepass")
    _check(api("POST", "/api/v1/messages", data=raw, content_type="application/json"))


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_any_bytes_are_answered_without_a_server_error(api, raw):
    _check(api("POST", "/api/v1/messages", data=raw, content_type="application/json"))


@SETTINGS
@given(
    ident=HOSTILE_TEXT,
    params=st.dictionaries(
        st.sampled_from(["page", "page_size", "after", "limit", "cursor", "status"]), HOSTILE_TEXT
    ),
)
def test_any_id_and_paging_value_is_a_4xx_or_an_answer(api, ident, params):
    from urllib.parse import quote

    path_id = quote(ident.encode("utf-8", "surrogatepass"), safe="")
    for path in (
        f"/api/v1/conversations/{path_id}",
        f"/api/v1/rules/{path_id}",
        f"/api/v1/campaigns/{path_id}/pause",
        f"/api/v1/messages/{path_id}",
    ):
        _check(api("GET" if "pause" not in path else "POST", path))
    for path in ("/api/v1/messages", "/api/v1/conversations", "/api/v1/conversations/1/messages"):
        allowed = {"/api/v1/messages": {"page", "page_size", "status"}}.get(
            path, {"after", "limit", "cursor"}
        )
        query = {k: v.encode("utf-8", "surrogatepass") for k, v in params.items() if k in allowed}
        _check(api("GET", path, query_string=query))
