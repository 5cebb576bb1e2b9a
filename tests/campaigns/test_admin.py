"""The campaign pages, server side: list, new (form, preview JSON, create from a CSV upload, errors
shown on the form), one campaign (counts, JSON for polling, actions, report CSV), and hostile text."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.extensions import db
from tests.admin.conftest import Desk, agent, sign_in  # noqa: F401  (fixtures)
from tests.conftest import OUR

CSV = "phone,name,city\n+12125550100,Ann,Paris\n+12125550101,Zoë,Köln\nbad,Bob,Rome\n"


@pytest.fixture
def desk(client, agent) -> Desk:  # noqa: F811
    assert sign_in(client).status_code == 302
    return Desk(client)


def create(desk: Desk, csv_text: str = CSV, **fields):
    desk.get("/admin/campaigns/new")
    data = {"name": "Spring", "from": OUR, "body": "Hi {{ name }} in {{ fields.city }}", **fields}
    data["recipients"] = (io.BytesIO(csv_text.encode()), "list.csv")
    return desk.post("/admin/campaigns/new", data=data, content_type="multipart/form-data")


def stored(query) -> int:
    return query(lambda: db.session.scalar(select(func.count()).select_from(Campaign)))


def test_pages_need_sign_in(client) -> None:
    for url in ("/admin/campaigns", "/admin/campaigns/new", "/admin/campaigns/1"):
        assert client.get(url).status_code == 302


def test_create_from_the_form_and_watch(desk, query) -> None:
    r = create(desk)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    cid = query(lambda: db.session.scalar(select(Campaign.id)))
    assert r.headers["Location"].endswith(f"/admin/campaigns/{cid}")
    html = desk.html(f"/admin/campaigns/{cid}")
    assert "<progress" in html and 'data-bucket="pending">2<' in html
    assert 'data-bucket="skipped_invalid">1<' in html and "Rows set aside" in html
    data = desk.get(f"/admin/campaigns/{cid}.json").get_json()
    assert data["counts"]["total"] == 3 and data["progress"] == {"done": 1, "total": 3, "percent": 33}
    listing = desk.html("/admin/campaigns")
    assert "Spring" in listing and "<progress" in listing
    report = desk.get(f"/admin/campaigns/{cid}/recipients.csv")
    assert report.status_code == 200 and report.get_data(as_text=True).count("\n") == 4


def test_form_errors_are_shown_and_nothing_is_created(desk, query) -> None:
    for fields, words in (
        ({"from": "nope"}, "unknown sender"),
        ({"body": "{{ broken"}, "not a valid template"),
        ({"send_at": "2001-01-01T10:00"}, "in the past"),
    ):
        r = create(desk, **fields)
        assert r.status_code == 400
        assert words in r.get_data(as_text=True)
    r = create(desk, csv_text="")
    assert r.status_code == 400 and "empty" in r.get_data(as_text=True)
    assert stored(query) == 0


def test_preview_json(desk) -> None:
    desk.get("/admin/campaigns/new")
    data = {
        "body": "Hi {{ name }}",
        "recipients": (io.BytesIO(CSV.encode()), "list.csv"),
        "total_rows": "1000",
    }
    r = desk.post("/admin/campaigns/preview", data=data, content_type="multipart/form-data")
    preview = r.get_json()
    assert [row["text"] for row in preview["rows"]] == ["Hi Ann", "Hi Zoë"]
    assert [row["encoding"] for row in preview["rows"]] == ["GSM-7", "UCS-2"]  # ë is not in GSM-7
    assert preview["recipients"] == 1000 and preview["estimated_cost"] == "7.90"
    assert len(preview["warnings"]) == 1 and "Row 3" in preview["warnings"][0]
    long_ucs2 = "phone,name\n+12125550100,Анна\n"
    data = {"body": "Hi {{ name }}" + "." * 100, "recipients": (io.BytesIO(long_ucs2.encode()), "l.csv")}
    warned = desk.post("/admin/campaigns/preview", data=data, content_type="multipart/form-data").get_json()
    assert warned["rows"][0]["segments"] == 2 and "UCS-2 (2 segments" in warned["warnings"][0]
    bad = desk.post("/admin/campaigns/preview", data={"body": "{% for %}"}).get_json()
    assert "template" in bad["error"]


def test_pause_resume_cancel_buttons(desk, query) -> None:
    create(desk)
    cid = query(lambda: db.session.scalar(select(Campaign.id)))
    page = f"/admin/campaigns/{cid}"
    assert desk.post(f"{page}/pause", page=page).status_code == 303
    assert query(lambda: db.session.get(Campaign, cid).status) == "paused"
    desk.post(f"{page}/resume", page=page)
    desk.post(f"{page}/cancel", page=page)
    assert query(lambda: db.session.get(Campaign, cid).status) == "cancelled"
    r = desk.post(f"{page}/resume", page=page)
    assert r.status_code == 303 and "cannot resume" in desk.html(page)
    assert desk.client.post(f"{page}/pause").status_code == 400  # no CSRF token


def test_hostile_names_are_text(desk, query) -> None:
    r = create(
        desk,
        name="<script>alert(1)</script>",
        csv_text="phone,name\n+12125550100,<img src=x onerror=alert(1)>\n",
    )
    assert r.status_code == 302
    cid = query(lambda: db.session.scalar(select(Campaign.id)))
    html = desk.html(f"/admin/campaigns/{cid}")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert desk.get("/admin/campaigns/99999").status_code == 404
    assert desk.get(f"/admin/campaigns/{10**20}").status_code == 404


def test_thread_names_the_campaign_and_the_reply_lands_there(desk, app, client) -> None:
    from datetime import UTC, datetime

    from freezegun import freeze_time

    from app.campaigns import service
    from app.conversations.models import Conversation
    from tests.conftest import inbound_payload, post_signed_webhook

    create(desk, name="Spring <b>sale</b>", csv_text="phone,name\n+12125550100,Ann\n")
    noon_ny = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    with app.app_context(), freeze_time(noon_ny):
        assert service.dispatch(noon_ny) == 1
        db.session.remove()
    assert (
        post_signed_webhook(
            client, "/webhooks/telefonie/inbound", inbound_payload("+12125550100", "Yes please")
        ).status_code
        == 204
    )
    with app.app_context():
        conversations = list(db.session.scalars(select(Conversation.id)))
        db.session.remove()
    assert len(conversations) == 1
    html = desk.html(f"/admin/conversations/{conversations[0]}")
    assert "campaign “Spring &lt;b&gt;sale&lt;/b&gt;”" in html
    assert "Yes please" in html and "Hi Ann in</p>" in html
