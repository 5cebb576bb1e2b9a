"""The admin's fixtures (a user who can sign in) for the accounts tests."""

from tests.admin.conftest import agent  # noqa: F401  (fixture)
