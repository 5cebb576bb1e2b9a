"""Hooks for the schemathesis run on the service's own API (SCHEMATHESIS_HOOKS points here).

The document marks phone numbers with `format: e164`; random strings are almost never valid
numbers, so positive cases draw from real ones (the sandbox's magic numbers included), and the
stateful phase gets real 201s whose ids feed the linked operations. The same for a campaign's
`send_at` (`format: iso8601`): times the server accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import schemathesis
from hypothesis import strategies as st

NUMBERS = [
    "+14155550123",
    "+14155550124",
    "+12025550199",
    "+12025550101",
    "+12025550102",
    "+442071838750",
    "+33142685300",
]

schemathesis.openapi.format("e164", st.sampled_from(NUMBERS))

# A campaign's `send_at` (`format: iso8601`, any ISO 8601 form the server reads): positive cases
# use times the server accepts, in several spellings, so that campaigns get created (and scheduled).
_SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
SEND_AT = [
    "",
    _SOON.isoformat(),
    _SOON.strftime("%Y-%m-%dT%H:%M:%SZ"),
    _SOON.strftime("%Y-%m-%dT%H:%M"),
    (_SOON + timedelta(days=1)).date().isoformat(),
]
schemathesis.openapi.format("iso8601", st.sampled_from(SEND_AT))
