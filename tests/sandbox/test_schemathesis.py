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
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance, status_code_conformance

from tests.sandbox.conftest import API_KEY, Server

SPEC = Path(__file__).resolve().parents[2] / "app" / "sandbox" / "telefonie-sms-openapi.yml"

schema = schemathesis.openapi.from_path(SPEC)

EXCLUDED: list[CheckFunction] = [status_code_conformance, positive_data_acceptance]


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_sandbox_conforms_to_the_seed_spec(case: schemathesis.Case, sandbox_server: Server) -> None:
    case.call_and_validate(
        base_url=f"{sandbox_server.url}/v1/sms",
        headers={"X-API-Key": API_KEY},
        excluded_checks=EXCLUDED,
        timeout=10,
    )
