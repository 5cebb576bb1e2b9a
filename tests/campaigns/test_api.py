"""/api/v1/campaigns: create, read, validation, pause/resume/cancel."""

from __future__ import annotations

from tests.conftest import OUR

NY = "+12125550100"
NY2 = "+12125550101"


def create(api, **overrides):
    payload = {"name": "Spring sale", "from": OUR, "body": "20% off today", "recipients": [NY, NY2]}
    payload.update(overrides)
    return api("POST", "/api/v1/campaigns", json=payload)


def test_create_and_get(api) -> None:
    r = create(api, recipients=[NY, NY2, NY], media_url="https://example.com/a.png")
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    assert data["name"] == "Spring sale"
    assert data["status"] == "running"
    assert data["from"] == OUR
    assert data["body"] == "20% off today"
    assert data["media_url"] == ["https://example.com/a.png"]
    assert data["rate_per_minute"] == 60  # settings default
    assert data["created_at"].endswith("Z")
    assert data["counts"]["pending"] == 2  # duplicates collapsed
    assert data["counts"]["total"] == 2
    assert data["counts"]["messages"] == {
        "queued": 0,
        "sent": 0,
        "delivered": 0,
        "undelivered": 0,
        "failed": 0,
    }
    r = api("GET", f"/api/v1/campaigns/{data['id']}")
    assert r.status_code == 200
    assert r.get_json()["id"] == data["id"]
    assert r.get_json()["counts"]["pending"] == 2


def test_rate_per_minute(api) -> None:
    assert create(api, rate_per_minute=5).get_json()["rate_per_minute"] == 5
    for bad in (0, 6001, "x", True):
        r = create(api, rate_per_minute=bad)
        assert r.status_code == 400, bad
        assert "rate_per_minute" in r.get_json()["error"]["message"]


def test_unknown_campaign_is_404(api) -> None:
    assert api("GET", "/api/v1/campaigns/999").status_code == 404
    assert api("POST", "/api/v1/campaigns/999/pause").status_code == 404


def test_needs_an_api_key(client) -> None:
    assert client.get("/api/v1/campaigns/1").status_code == 401


def test_bad_recipient_is_named(api) -> None:
    r = create(api, recipients=[NY, NY2, "+1555", "+12125550102"])
    assert r.status_code == 400
    assert "'recipients[2]'" in r.get_json()["error"]["message"]


def test_validation(api) -> None:
    cases = [
        ({"recipients": []}, "'recipients'"),
        ({"recipients": NY}, "'recipients'"),
        ({"recipients": [NY] * 10_001}, "'recipients'"),
        ({"from": "12345"}, "'from'"),
        ({"name": None}, "'name'"),
        ({"name": "  "}, "'name'"),
        ({"body": "", "media_url": None}, "'body'"),
        ({"body": "中" * 700}, "segments"),  # UCS-2, 700 units: 11 segments
        ({"media_url": "ftp://example.com/x"}, "media_url"),
    ]
    for overrides, named in cases:
        r = create(api, **overrides)
        assert r.status_code == 400, (overrides, r.get_json())
        assert named in r.get_json()["error"]["message"], (overrides, r.get_json())
    assert api("POST", "/api/v1/campaigns", data="x", content_type="text/plain").status_code == 415


def test_ten_thousand_recipients(api) -> None:
    recipients = [f"+1212555{n:04d}" for n in range(10_000)]
    r = create(api, recipients=recipients)
    assert r.status_code == 201
    assert r.get_json()["counts"]["pending"] == 10_000


def test_transitions(api) -> None:
    cid = create(api).get_json()["id"]
    base = f"/api/v1/campaigns/{cid}"
    assert api("POST", base + "/resume").status_code == 409  # running
    r = api("POST", base + "/pause")
    assert r.status_code == 200 and r.get_json()["status"] == "paused"
    assert api("POST", base + "/pause").status_code == 409
    r = api("POST", base + "/resume")
    assert r.status_code == 200 and r.get_json()["status"] == "running"
    r = api("POST", base + "/cancel")
    assert r.status_code == 200
    data = r.get_json()
    assert data["status"] == "cancelled"
    assert data["counts"]["cancelled"] == 2 and data["counts"]["pending"] == 0
    r = api("POST", base + "/resume")
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "invalid_transition"
    assert api("POST", base + "/pause").status_code == 409
    assert api("POST", base + "/cancel").status_code == 409
    assert api("POST", base + "/restart").status_code == 404
