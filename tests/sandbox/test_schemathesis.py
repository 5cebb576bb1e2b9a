"""The sandbox against the seed spec itself: generated requests for every operation, over HTTP.

What must hold for every generated request: answers match the spec's schemas and content
types, and the sandbox never answers 5xx. Two of schemathesis's default checks are left out,
because the seed spec is looser than the provider it describes:

- `status_code_conformance`: the spec lists only the success codes (and 404 for one
  operation), while the provider answers 400 to invalid input and 401 without a key, as
  CONTRACT section 8 and every Twilio-like API do.
- `positive_data_acceptance`: the spec types `to` and `from` as any string and `page` as any
  integer, so "valid" generated data includes numbers that are not E.164 and page 0, which
  the provider rightly refuses with 400.

Random strings are almost never E.164 numbers, so a hook turns half the generated sends into
ones the provider accepts (real numbers, magic ones included); otherwise the 201 answer would
never be checked. The last test checks each operation's success answer explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance, status_code_conformance

from tests.sandbox.conftest import API_KEY, OUR_NUMBER, Api, Server, fresh_number

SPEC = Path(__file__).resolve().parents[2] / "app" / "sandbox" / "telefonie-sms-openapi.yml"

# The key goes through the spec's own security scheme, so schemathesis knows which header is
# the credential (and its auth checks can leave it out on purpose).
CONFIG = schemathesis.Config.from_dict({"auth": {"openapi": {"ApiKeyAuth": {"api_key": API_KEY}}}})
schema = schemathesis.openapi.from_path(SPEC, config=CONFIG)

EXCLUDED: list[CheckFunction] = [status_code_conformance, positive_data_acceptance]
RECIPIENTS = ["+14155550123", "+442071838750", "+12025550101", "+12025550102", "+12025550103"]


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy:
    """Half the sends get real numbers and drop fields a provider would refuse as random text."""
    if context.operation is None or context.operation.label != "POST /messages" or not isinstance(body, dict):
        return st.just(body)
    if not isinstance(body.get("to"), str) or not isinstance(body.get("from"), str):
        return st.just(body)  # a negative case about the numbers' types: keep it as it is
    if any(k in body for k in ("media_url", "status_callback", "validity_period")):
        return st.just(body)  # dropping these could turn a negative case into a valid one
    accepted = dict(body)
    return st.one_of(
        st.sampled_from(RECIPIENTS).map(lambda to: {**accepted, "to": to, "from": OUR_NUMBER, "body": "hi"}),
        st.just(body),
    )


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_sandbox_conforms_to_the_seed_spec(case: schemathesis.Case, sandbox_server: Server) -> None:
    case.call_and_validate(base_url=f"{sandbox_server.url}/v1/sms", excluded_checks=EXCLUDED, timeout=10)


def test_success_answers_match_the_spec(api: Api) -> None:
    """Each operation's documented answer, checked against the spec with schemathesis."""
    sent = api.send(fresh_number(), "Hello", media_url=["https://example.com/a.png"])
    assert sent.status_code == 201
    schema["/messages"]["POST"].validate_response(sent)
    message_id = sent.json()["id"]

    for response, operation in [
        (api.get("/messages"), schema["/messages"]["GET"]),
        (api.get(f"/messages/{message_id}"), schema["/messages/{message_id}"]["GET"]),
        (api.get("/messages/TF-unknown"), schema["/messages/{message_id}"]["GET"]),
        (api.delete(f"/messages/{message_id}"), schema["/messages/{message_id}"]["DELETE"]),
    ]:
        operation.validate_response(response)
