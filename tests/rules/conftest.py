"""The desk fixtures (signed-in client, thread builder) for tests that check rules in the desk too."""

from tests.admin.conftest import agent, desk, make  # noqa: F401
