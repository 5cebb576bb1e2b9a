"""Styled 403, 404, 405 and 500 pages in the desk, with the navigation (issue 12, finding 7)."""

from __future__ import annotations

import pytest
from flask import abort

from app import create_app

NAV = ('class="sidebar"', 'href="/admin/rules"', 'href="/admin/consent"', "Back to the inbox")


def assert_styled(response, status: int, title: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "admin.css" in html and f"<h1>{title}</h1>" in html, html[:500]
    assert "Werkzeug" not in html and "<title>404 Not Found</title>" not in html
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_unknown_thread_is_a_styled_404_with_navigation(desk):
    response = desk.client.get("/admin/conversations/999999")
    assert_styled(response, 404, "Not found")
    for piece in NAV:
        assert piece in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/admin/no-such-page", "/admin/rules/424242", "/admin/contacts/+19999999999", "/admin/%00"]
)
def test_other_unknown_desk_addresses(desk, path):
    response = desk.client.get(path)
    assert response.status_code == 404
    if path != "/admin/contacts/+19999999999":  # a contact page may answer for an unknown number
        assert_styled(response, 404, "Not found")


def test_wrong_method_is_a_styled_405(desk):
    assert_styled(desk.client.put("/admin/rules"), 405, "Not allowed here")


def test_json_polls_get_json_errors(desk):
    response = desk.client.get("/admin/conversations/999999/messages.json")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_signed_out_unknown_page_has_no_navigation(client):
    response = client.get("/admin/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert 'class="sidebar"' not in html and "<h1>Not found</h1>" in html


def test_outside_the_desk_answers_stay_as_they_were(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "admin.css" not in response.get_data(as_text=True)


@pytest.fixture
def failing_app(app):
    """A second app on the same settings with two extra desk routes: one forbids, one crashes."""
    other = create_app({**app.config, "PROPAGATE_EXCEPTIONS": False})

    def forbidden():
        abort(403)

    def crash():
        raise RuntimeError("boom <script>alert(1)</script>")

    other.add_url_rule("/admin/test-forbidden", "test_forbidden", forbidden)
    other.add_url_rule("/admin/test-crash", "test_crash", crash)
    return other


def test_403_and_500_are_styled(failing_app, agent):
    from tests.admin.conftest import sign_in

    client = failing_app.test_client()
    assert sign_in(client).status_code == 302
    assert_styled(client.get("/admin/test-forbidden"), 403, "Not allowed")
    crashed = client.get("/admin/test-crash")
    assert_styled(crashed, 500, "Something went wrong")
    assert "boom" not in crashed.get_data(as_text=True)  # no exception text leaks to the page
    assert 'class="sidebar"' in crashed.get_data(as_text=True)
