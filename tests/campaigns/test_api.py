"""/api/v1/campaigns (contract section 11): create from JSON, counts, bad rows, bad input, list, read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.campaigns.models import BUCKETS, Campaign, CampaignRecipient
from app.conversations.models import Contact
from app.conversations.service import get_or_create_contact
from app.extensions import db
from tests.conftest import OUR

NY = "+12125550100"
NY2 = "+12125550101"
LA = "+13105550100"


def create(api, **overrides):
    payload = {"name": "Spring sale", "from": OUR, "body": "20% off today", "recipients": [NY, NY2]}
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    return api("POST", "/api/v1/campaigns", json=payload)


def campaigns_stored(query) -> int:
    return query(lambda: db.session.scalar(select(func.count()).select_from(Campaign)))


def test_create_and_get(api) -> None:
    r = create(api, recipients=[NY, NY2, NY], media_url="https://example.com/a.png")
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    assert data["name"] == "Spring sale"
    assert data["status"] == "running"
    assert data["from"] == [OUR]
    assert data["body"] == "20% off today"
    assert data["media_url"] == ["https://example.com/a.png"]
    assert data["rate_per_minute"] == 60  # settings default
    assert data["created_at"].endswith("Z") and data["send_at"].endswith("Z")
    counts = data["counts"]
    assert set(counts) == set(BUCKETS) | {"total", "replies"}
    assert counts["pending"] == 2 and counts["skipped_duplicate"] == 1 and counts["total"] == 3
    assert sum(counts[b] for b in BUCKETS) == counts["total"]
    assert data["skipped_rows"] == [
        {
            "row": 3,
            "phone": NY,
            "status": "skipped_duplicate",
            "reason": "the number appears earlier in the list",
        }
    ]
    r = api("GET", f"/api/v1/campaigns/{data['id']}")
    assert r.status_code == 200
    assert r.get_json()["counts"] == counts


def test_bad_rows_are_skipped_and_named_with_row_numbers(api, app) -> None:
    with app.app_context():
        get_or_create_contact(LA).opted_out = True
        db.session.commit()
        db.session.remove()
    recipients = [
        NY,
        "12345",
        {"phone": NY2, "name": "Ann", "fields": {"city": "Paris"}},
        {"name": "no phone"},
        42,
        None,
        LA,
        {"phone": "+12125550102", "name": "x" * 201},  # a bad name (NUL in JSON is invalid_json)
        {"phone": "+12125550103", "fields": ["not", "an", "object"]},
        "+1 212 555 0100",  # not E.164 as written: invalid, not a duplicate
        NY2,
    ]
    r = create(api, recipients=recipients)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    counts = data["counts"]
    assert counts["pending"] == 2
    assert counts["skipped_invalid"] == 7
    assert counts["skipped_opted_out"] == 1
    assert counts["skipped_duplicate"] == 1
    assert counts["total"] == len(recipients)
    named = {row["row"]: row["status"] for row in data["skipped_rows"]}
    assert named == {
        2: "skipped_invalid",
        4: "skipped_invalid",
        5: "skipped_invalid",
        6: "skipped_invalid",
        7: "skipped_opted_out",
        8: "skipped_invalid",
        9: "skipped_invalid",
        10: "skipped_invalid",
        11: "skipped_duplicate",
    }


def test_names_fill_in_contacts_without_one(api, app, query) -> None:
    with app.app_context():
        get_or_create_contact(NY).name = "Already"
        get_or_create_contact(NY2)
        db.session.commit()
        db.session.remove()
    r = create(api, recipients=[{"phone": NY, "name": "New"}, {"phone": NY2, "name": "Bea"}])
    assert r.status_code == 201
    names = query(lambda: dict(db.session.execute(select(Contact.phone, Contact.name)).all()))
    assert names == {NY: "Already", NY2: "Bea"}


def test_sender_pool_and_send_at(api) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    r = create(api, **{"from": [OUR, "+13105550199"], "send_at": later})
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    assert data["from"] == [OUR, "+13105550199"] and data["status"] == "scheduled"
    assert data["send_at"].startswith(later[:16])


@pytest.mark.parametrize(
    ("overrides", "code", "words"),
    [
        ({"name": None}, "missing_field", "'name'"),
        ({"name": "x" * 201}, "invalid_field", "'name'"),
        ({"from": None}, "missing_field", "'from'"),
        ({"from": "+1555"}, "21211", "sender"),
        ({"from": [OUR, "not-a-number"]}, "21211", "from[1]"),
        ({"body": None}, "21602", "'body'"),
        ({"body": "Hi {{ name "}, "invalid_template", "template"),
        ({"body": "{% for x in range(10) %}{{ x }}{% endfor %}{{ 1/0 }}"}, "invalid_template", "row 1"),
        (
            {"body": "{{ fields.long }}", "recipients": [{"phone": NY, "fields": {"long": "ы" * 1000}}]},
            "21617",
            "row 1",
        ),
        # over 1,600 characters: the code of every too-long body (README, "The API's errors")
        ({"body": "x" * 1601}, "21617", "'body'"),
        ({"send_at": "2020-01-01T00:00:00Z"}, "invalid_field", "past"),
        ({"send_at": "next tuesday"}, "invalid_field", "send_at"),
        ({"send_at": 12}, "invalid_field", "send_at"),
        ({"rate_per_minute": 0}, "invalid_field", "rate_per_minute"),
        ({"rate_per_minute": 10**30}, "invalid_field", "rate_per_minute"),
        ({"rate_per_minute": True}, "invalid_field", "rate_per_minute"),
        ({"recipients": []}, "invalid_recipients", "empty"),
        ({"recipients": "+12125550100"}, "invalid_recipients", "list"),
        ({"recipients": None}, "missing_field", "audience"),
        ({"tag": "vip"}, "invalid_field", "exactly one"),
        # NUL and lone surrogates anywhere in a JSON body: invalid_json on every route (README,
        # "The API's errors"), refused before the campaign is read, even inside a recipient row
        ({"name": "bad\ud800"}, "invalid_json", "Unicode"),
        ({"recipients": [{"phone": NY, "name": "x\x00y"}]}, "invalid_json", "NUL"),
    ],
)
def test_bad_input_is_a_400_and_creates_nothing(api, query, overrides, code, words) -> None:
    r = create(api, **overrides)
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == code, error
    assert words in error["message"], error
    assert campaigns_stored(query) == 0


def test_100001_recipients_is_a_400(api, query) -> None:
    r = create(api, recipients=[f"+1212{n:07d}" for n in range(100_001)])
    assert r.status_code == 400
    assert "100,001" in r.get_json()["error"]["message"]
    assert campaigns_stored(query) == 0


def test_not_json_and_unauthenticated(api, client) -> None:
    assert api("POST", "/api/v1/campaigns", data="x", content_type="text/plain").status_code == 415
    assert api("POST", "/api/v1/campaigns", data="[1,", content_type="application/json").status_code == 400
    assert client.get("/api/v1/campaigns").status_code == 401


def test_list_newest_first_and_404(api) -> None:
    first = create(api, name="first").get_json()["id"]
    second = create(api, name="second").get_json()["id"]
    data = api("GET", "/api/v1/campaigns").get_json()
    assert [c["id"] for c in data["campaigns"]] == [second, first] and data["total"] == 2
    assert api("GET", "/api/v1/campaigns/999").status_code == 404
    assert api("GET", f"/api/v1/campaigns/{10**20}").status_code == 404
    assert api("POST", f"/api/v1/campaigns/{10**20}/pause").status_code == 404


def test_recipients_paged_and_csv(api) -> None:
    cid = create(api, recipients=[NY, "bad", {"phone": NY2, "name": "=cmd()"}]).get_json()["id"]
    data = api("GET", f"/api/v1/campaigns/{cid}/recipients?page_size=2").get_json()
    assert data["total"] == 3
    assert [(r["phone"], r["status"], r["from"]) for r in data["recipients"]] == [
        (NY, "pending", OUR),
        ("bad", "skipped_invalid", None),
    ]
    assert set(data["recipients"][0]) >= {"phone", "name", "status", "message_id", "from", "error_code"}
    page2 = api("GET", f"/api/v1/campaigns/{cid}/recipients?page=2&page_size=2").get_json()
    assert [r["phone"] for r in page2["recipients"]] == [NY2]
    assert api("GET", f"/api/v1/campaigns/{cid}/recipients?page_size=101").status_code == 400
    r = api("GET", f"/api/v1/campaigns/{cid}/recipients.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.get_data(as_text=True).splitlines()
    assert lines[0] == "row,phone,name,status,message_id,from,error_code"
    assert len(lines) == 4
    assert lines[3].startswith("3,+12125550101,'=cmd(),pending,,+12025550199,")


def test_tag_audience(api, app) -> None:
    from app.conversations.service import get_or_create_conversation

    with app.app_context():
        for phone, tags in ((NY, ["vip"]), (NY2, ["other"]), (LA, ["vip", "x"])):
            get_or_create_conversation(OUR, get_or_create_contact(phone)).tags = tags
        db.session.commit()
        db.session.remove()
    r = create(api, recipients=None, tag="vip")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["counts"]["pending"] == 2
    r = create(api, recipients=None, tag="nobody")
    assert r.status_code == 400 and "nobody" in r.get_json()["error"]["message"]


def test_recipient_rows_keep_name_and_fields(api, query) -> None:
    cid = create(
        api, recipients=[{"phone": NY, "name": "Ann", "fields": {"city": "Paris", "n": 3}}]
    ).get_json()["id"]
    row = query(
        lambda: db.session.execute(
            select(CampaignRecipient.name, CampaignRecipient.fields).where(
                CampaignRecipient.campaign_id == cid
            )
        ).one()
    )
    assert tuple(row) == ("Ann", {"city": "Paris", "n": "3"})
