"""Settings and the admin's extra consent keywords."""

from __future__ import annotations

from sqlalchemy import select

from app import settings as stored
from app.consent.models import ConsentKeyword
from app.extensions import db


def form(**changes) -> dict:
    values = dict(stored.DEFAULTS)
    values.update(changes)
    return values


def test_settings_save(desk, query):
    assert "Acme Support" in desk.html("/admin/settings")
    response = desk.post(
        "/admin/settings",
        form(brand="Bloom Florists", loop_guard_max="5", quiet_start="20:30"),
        follow_redirects=True,
    )
    assert "Settings saved." in response.text
    values = query(stored.get_all)
    assert (
        values["brand"] == "Bloom Florists"
        and values["loop_guard_max"] == "5"
        and values["quiet_start"] == "20:30"
    )
    assert "Bloom Florists: help at support@example.com" in response.text  # the rendered preview


def test_settings_errors_per_field(desk, query):
    desk.get("/admin/settings")
    response = desk.post(
        "/admin/settings",
        form(brand="", loop_guard_max="many", quiet_end="8am", help_text="Call us.", stop_text="Bye."),
    )
    assert response.status_code == 400
    text = response.text
    assert "required" in text and "a whole number from 0 to 100" in text and "a 24-hour time" in text
    assert "mention STOP" in text and "mention START" in text
    assert query(stored.get_all)["brand"] == "Acme Support"


def test_keywords_add_and_remove(desk, query):
    html = desk.html("/admin/settings")
    assert "UNSUBSCRIBE" in html and "OPT-OUT" in html
    desk.post("/admin/settings/keywords", {"keyword": "  Arrêt! ", "kind": "opt_out"})
    [row] = query(lambda: [(k.id, k.keyword, k.kind) for k in db.session.scalars(select(ConsentKeyword))])
    assert row[1:] == ("arrêt", "opt_out")
    assert "ARRÊT" in desk.html("/admin/settings")
    duplicate = desk.post("/admin/settings/keywords", {"keyword": "ARRÊT", "kind": "help"})
    assert duplicate.status_code == 400 and "is a keyword already" in duplicate.text
    default = desk.post("/admin/settings/keywords", {"keyword": "stop", "kind": "help"})
    assert default.status_code == 400 and "is a default keyword already" in default.text
    bad = desk.post("/admin/settings/keywords", {"keyword": "!!!", "kind": "help"})
    assert bad.status_code == 400 and "keyword must contain" in bad.text
    desk.post(f"/admin/settings/keywords/{row[0]}/delete")
    assert query(lambda: db.session.scalar(select(ConsentKeyword))) is None
    assert desk.post("/admin/settings/keywords/99999/delete").status_code == 404


def test_added_keyword_acts_on_inbound(desk, query):
    desk.get("/admin/settings")
    desk.post("/admin/settings/keywords", {"keyword": "ALTO", "kind": "opt_out"})
    result = desk.post(
        "/admin/rules/try", {"from": "+14155550123", "to": "+12025550199", "body": "alto"}
    ).text
    assert "Consent keyword:" in result and "opt_out" in result
