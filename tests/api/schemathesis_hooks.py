"""Hooks for the schemathesis run on the service's own API (SCHEMATHESIS_HOOKS points here).

The document marks phone numbers with `format: e164`; random strings are almost never valid
numbers, so positive cases draw from real ones (the sandbox's magic numbers included), and the
stateful phase gets real 201s whose ids feed the linked operations."""

from __future__ import annotations

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
