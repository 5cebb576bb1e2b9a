"""A campaign through the real worker and the sandbox: delivered, and nothing to an opted-out contact."""

from __future__ import annotations

from datetime import timedelta

from app.campaigns.quiet_hours import allowed
from app.conversations.service import get_or_create_contact
from app.extensions import db
from app.types import utcnow
from tests.conftest import OUR, wait_until

# Pairs of numbers in one zone each; together their 08:00-21:00 windows cover every hour of the day.
CANDIDATES = [
    ("+12125550100", "+12125550101"),  # New York
    ("+13105550100", "+13105550101"),  # Los Angeles
    ("+18085550100", "+18085550101"),  # Honolulu
    ("+442071234567", "+442071234568"),  # London
    ("+919812345678", "+919812345679"),  # India
    ("+81312345678", "+81312345679"),  # Tokyo
    ("+61298765432", "+61298765433"),  # Sydney
]


def numbers_inside_the_window() -> tuple[str, str]:
    now = utcnow()
    for pair in CANDIDATES:
        if all(allowed(n, now) and allowed(n, now + timedelta(minutes=5)) for n in pair):
            return pair
    raise AssertionError(f"no candidate zone is inside the window at {now}")


def test_campaign_reaches_the_sandbox(app, api, worker, sandbox) -> None:
    recipient, opted_out = numbers_inside_the_window()
    with app.app_context():
        get_or_create_contact(opted_out).opted_out = True
        db.session.commit()
        db.session.remove()

    r = api(
        "POST",
        "/api/v1/campaigns",
        json={"name": "e2e", "from": OUR, "body": "Campaign hello", "recipients": [recipient, opted_out]},
    )
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]

    def delivered():
        counts = api("GET", f"/api/v1/campaigns/{cid}").get_json()["counts"]
        return counts if counts["messages"]["delivered"] == 1 else None

    counts = wait_until(delivered, timeout=20)
    assert counts, api("GET", f"/api/v1/campaigns/{cid}").get_json()
    assert counts["queued"] == 1 and counts["skipped_opted_out"] == 1 and counts["pending"] == 0
    assert api("GET", f"/api/v1/campaigns/{cid}").get_json()["status"] == "completed"

    sent = sandbox.sent_to(recipient)
    assert [m["body"] for m in sent] == ["Campaign hello"]
    assert sent[0]["from"] == OUR
    assert sandbox.sent_to(opted_out) == []
