"""POST /api/v1/campaigns as multipart/form-data with a CSV file named `recipients`."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.campaigns.models import Campaign, CampaignRecipient
from app.extensions import db
from tests.conftest import OUR


def post_csv(api, content: bytes | str, **fields):
    raw = content.encode() if isinstance(content, str) else content
    form = {"name": "CSV sale", "from": OUR, "body": "Hi {{ name }} in {{ fields.City }}", **fields}
    form["recipients"] = (io.BytesIO(raw), "list.csv", "text/csv")
    return api("POST", "/api/v1/campaigns", data=form, content_type="multipart/form-data")


def stored(query) -> int:
    return query(lambda: db.session.scalar(select(func.count()).select_from(Campaign)))


def test_csv_with_names_fields_and_bad_rows(api, query) -> None:
    content = (
        "\ufeffPhone,Name,City\r\n"
        "+12125550100,Ann,Paris\r\n"
        "not a number,Bob,Rome\r\n"
        "\r\n"
        "+12125550101,,\r\n"
        "+12125550100,Ann again,Paris\r\n"
        '"+13105550100","Zoë ""Z""",Köln\r\n'
    )
    r = post_csv(api, content, rate_per_minute="30")
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    assert data["rate_per_minute"] == 30
    assert data["counts"]["pending"] == 3 and data["counts"]["total"] == 5
    assert data["counts"]["skipped_invalid"] == 1 and data["counts"]["skipped_duplicate"] == 1
    assert [(s["row"], s["status"]) for s in data["skipped_rows"]] == [
        (3, "skipped_invalid"),
        (6, "skipped_duplicate"),
    ]
    rows = query(
        lambda: db.session.execute(
            select(CampaignRecipient.phone, CampaignRecipient.name, CampaignRecipient.fields)
            .where(CampaignRecipient.outcome == "pending")
            .order_by(CampaignRecipient.id)
        ).all()
    )
    assert [tuple(r) for r in rows] == [
        ("+12125550100", "Ann", {"City": "Paris"}),
        ("+12125550101", None, {"City": ""}),
        ("+13105550100", 'Zoë "Z"', {"City": "Köln"}),
    ]


def test_sender_pool_as_repeated_form_fields(api) -> None:
    form_from = [OUR, "+13105550199"]
    r = post_csv(api, "phone\n+12125550100\n", **{"from": form_from})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["from"] == form_from


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"+12125550100,Ann\n+12125550101,Bob\n", "header"),
        (b"name,city\nAnn,Paris\n", "header"),
        (b"phone,name\n", "empty"),
        (b"phone,phone\n+12125550100,+12125550101\n", "twice"),
        ("phone\n+12125550100\n".encode("utf-16"), "UTF-8"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"phone\n+12125550100\x00\n", "NUL"),
    ],
)
def test_bad_csv_is_a_400_naming_the_problem(api, query, content, words) -> None:
    r = post_csv(api, content)
    assert r.status_code == 400, r.get_json()
    assert words in r.get_json()["error"]["message"]
    assert stored(query) == 0


def test_csv_over_the_size_limit(api, app, query) -> None:
    app.config["CAMPAIGN_CSV_MAX_BYTES"] = 1100
    try:
        r = post_csv(api, "phone\n" + "+12125550100\n" * 100)
    finally:
        app.config.pop("CAMPAIGN_CSV_MAX_BYTES")
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "file_too_large"
    assert stored(query) == 0


def test_csv_over_100000_rows(api, query) -> None:
    rows = "".join(f"+1212{n:07d}\n" for n in range(100_001))
    r = post_csv(api, "phone\n" + rows)
    assert r.status_code == 400 and "100,000" in r.get_json()["error"]["message"]
    assert stored(query) == 0


def test_csv_and_json_recipients_together_is_refused(api, query) -> None:
    r = post_csv(api, "phone\n+12125550100\n", tag="vip")
    assert r.status_code == 400 and "exactly one" in r.get_json()["error"]["message"]


def test_hostile_cells_are_stored_as_text(api, query) -> None:
    content = "phone,name,note\n+12125550100,<script>alert(1)</script>,'; DROP TABLE contacts; --\n"
    r = post_csv(api, content, body="{{ fields.note }}")
    assert r.status_code == 201, r.get_json()
    fields = query(lambda: db.session.scalar(select(CampaignRecipient.fields)))
    assert fields == {"note": "'; DROP TABLE contacts; --"}
