"""Rule names are unique (compared case-folded) and tags have one spelling (issue 12, finding 6).

API POST/PUT/PATCH answer 409 on a clash, the desk's rule form too; YAML import refuses a file that
names two rules alike and matches existing rules case-folded; the unique index holds even when the
service's own check is bypassed. Tags are trimmed, compared case-folded and shown as first written
wherever they are set: the thread's tag form, rule actions and the rules API.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from app.conversations import tags
from app.conversations.models import Conversation
from app.extensions import db
from app.migrate import upgrade
from app.rules.models import Rule
from app.rules.yaml_io import import_rules
from tests.admin.test_rules import FORM
from tests.conftest import inbound_payload, post_signed_webhook

RULE = {"match": "first_word", "patterns": ["HOURS"], "reply": "We open at 9"}


def make_rule(api, name: str, **fields):
    return api("POST", "/api/v1/rules", json={**RULE, "name": name, **fields})


def rule_names(query) -> list[str]:
    return query(lambda: list(db.session.scalars(select(Rule.name).order_by(Rule.id))))


def test_api_refuses_a_second_rule_of_the_same_name(api, query):
    first = make_rule(api, "Opening hours")
    assert first.status_code == 201
    for clash in ("Opening hours", "  opening   HOURS ", "OPENING HOURS"):
        response = make_rule(api, clash)
        assert response.status_code == 409, response.get_data(as_text=True)
        error = response.get_json()["error"]
        assert error["code"] == "duplicate_name" and "unique" in error["message"]
    other = make_rule(api, "Prices").get_json()
    assert (
        api("PUT", f"/api/v1/rules/{other['id']}", json={**RULE, "name": "opening hours"}).status_code == 409
    )
    assert api("PATCH", f"/api/v1/rules/{other['id']}", json={"name": "Opening Hours"}).status_code == 409
    same = api("PUT", f"/api/v1/rules/{first.get_json()['id']}", json={**RULE, "name": "Opening Hours"})
    assert same.status_code == 200 and same.get_json()["name"] == "Opening Hours"  # itself: a rename
    assert rule_names(query) == ["Opening Hours", "Prices"]


def test_hostile_names_are_400_not_500(api):
    for name in ("", "   ", "x" * 201, 12, None):
        assert make_rule(api, name).status_code == 400, name
    assert make_rule(api, "<script>alert(1)</script>").status_code == 201
    assert make_rule(api, "<SCRIPT>alert(1)</SCRIPT>").status_code == 409
    assert make_rule(api, "Straße").status_code == 201
    assert make_rule(api, "STRASSE").status_code == 409  # full case folding, not lower()


def test_the_index_holds_without_the_service(app):
    with app.app_context():
        db.session.add(Rule(name="A", name_key="a", patterns=["X"], reply=""))
        db.session.commit()
        db.session.add(Rule(name="a", name_key="a", patterns=["Y"], reply=""))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()


def test_desk_form_answers_409_on_a_clash(desk, query):
    desk.get("/admin/rules/new")
    assert desk.post("/admin/rules/new", FORM).status_code == 302
    clash = desk.post("/admin/rules/new", {**FORM, "name": " opening HOURS"})
    assert clash.status_code == 409
    assert "exists already" in clash.get_data(as_text=True)
    assert rule_names(query) == ["Opening hours"]


def test_yaml_import_refuses_duplicate_names_and_matches_case_folded(app, api, query, tmp_path):
    make_rule(api, "Opening hours")
    duplicated = tmp_path / "dup.yml"
    duplicated.write_text(
        "rules:\n"
        "- {name: New one, patterns: [A], reply: a}\n"
        "- {name: Prices, patterns: [B], reply: b}\n"
        "- {name: '  PRICES', patterns: [C], reply: c}\n"
    )
    result = app.test_cli_runner().invoke(args=["rules", "import", str(duplicated)])
    assert result.exit_code != 0
    assert "rule #3" in result.output and "rule #2" in result.output and "unique" in result.output
    assert rule_names(query) == ["Opening hours"]  # nothing imported

    again = tmp_path / "again.yml"
    again.write_text(
        "- {name: OPENING HOURS, patterns: [HOURS], reply: changed}\n"
        "- {name: Prices, patterns: [P], reply: p}\n"
    )
    with app.app_context():
        assert import_rules(again.read_text()) == (1, 1)
        db.session.commit()
        db.session.remove()
    assert rule_names(query) == ["OPENING HOURS", "Prices"]


def test_export_then_import_updates_exactly_the_rules(app, api, tmp_path):
    for name in ("One", "Two", "Three"):
        make_rule(api, name)
    runner = app.test_cli_runner()
    out = tmp_path / "rules.yml"
    assert runner.invoke(args=["rules", "export", str(out)]).exit_code == 0
    result = runner.invoke(args=["rules", "import", str(out)])
    assert result.exit_code == 0 and "0 created, 3 updated" in result.output, result.output


def test_migration_renames_existing_duplicates(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    engine = create_engine(url)
    with engine.begin() as conn:
        for name in ("Hours", "hours", "HOURS ", "Prices"):
            conn.execute(
                text(
                    "INSERT INTO rules (name, enabled, priority, match, patterns, first_message_only, reply, "
                    "tags, close, created_at, updated_at) VALUES (:n, 1, 1, 'exact', '[]', 0, '', "
                    "'[\"Ship\", \"ship\"]', 0, '2026-01-01', '2026-01-01')"
                ),
                {"n": name},
            )
    upgrade(url)
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SELECT name FROM rules ORDER BY id"))]
        known = [r[0] for r in conn.execute(text("SELECT label FROM tags"))]
    engine.dispose()
    assert names == ["Hours", "hours (2)", "HOURS  (3)", "Prices"]
    assert known == ["Ship"]


# --- tags ---------------------------------------------------------------------------------------


def tags_of(query, cid: int) -> list[str]:
    return query(lambda: db.session.get(Conversation, cid).tags)


def test_thread_tags_are_normalised_and_keep_the_first_spelling(desk, make, query):
    one = make("+14155550101", [("inbound", "hi")])
    two = make("+14155550102", [("inbound", "hi")])
    desk.get(f"/admin/conversations/{one}")
    desk.post(f"/admin/conversations/{one}/tags", {"tags": "shipping, vip, Shipping,  VIP  "})
    assert tags_of(query, one) == ["shipping", "vip"]
    desk.post(f"/admin/conversations/{two}/tags", {"tags": " SHIPPING ,  Late   order"})
    assert tags_of(query, two) == ["shipping", "Late order"]
    page = desk.html(f"/admin/conversations/{two}")
    assert 'list="known-tags"' in page and "tags.js" in page
    for tag in ("Late order", "shipping", "vip"):
        assert f'<option value="{tag}">' in page


def test_hostile_tags_are_refused_or_escaped(desk, make, query):
    cid = make("+14155550101", [("inbound", "hi")])
    page = f"/admin/conversations/{cid}"
    desk.get(page)
    # NUL in any form value is refused by the desk's input guard before the view runs.
    assert desk.post(f"{page}/tags", {"tags": "a\x00b"}).status_code == 400
    for bad, message in (
        ("x" * 51, "at most 50"),
        (",".join(f"t{i}" for i in range(21)), "At most 20"),
    ):
        response = desk.post(f"{page}/tags", {"tags": bad}, follow_redirects=True)
        assert response.status_code == 200 and message in response.get_data(as_text=True), bad
    assert tags_of(query, cid) == []
    desk.post(f"{page}/tags", {"tags": '"><script>alert(1)</script>'})
    html = desk.html(page)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_rule_tags_use_the_same_spelling_and_merge_into_the_thread(app, client, api, desk, make, query):
    cid = make("+14155550101", [("inbound", "hi")])
    desk.get(f"/admin/conversations/{cid}")
    desk.post(f"/admin/conversations/{cid}/tags", {"tags": "Shipping"})
    created = make_rule(api, "Hours", tags=[" shipping", "VIP", "vip", "Hours  info"]).get_json()
    assert created["tags"] == ["Shipping", "VIP", "Hours info"]
    bad = make_rule(api, "Bad", tags=["ok", "a\x00b"])
    assert bad.status_code == 400
    response = post_signed_webhook(
        client, "/webhooks/telefonie/inbound", inbound_payload("+14155550101", "hours?")
    )
    assert response.status_code == 204
    assert tags_of(query, cid) == ["Shipping", "VIP", "Hours info"]


def test_tag_helpers():
    assert tags.key(" Straße  Nord ") == tags.key("STRASSE nord")
    assert tags.clean(["b", " B ", "", "a  b"]) == ["b", "a b"]
    assert tags.merge(["VIP", "x"], ["vip", "new", "X"]) == ["VIP", "x", "new"]
    with pytest.raises(tags.TagError):
        tags.clean(["\ud800"])


def test_tags_table_count_stays_one_per_key(app, desk, make, query):
    cid = make("+14155550101", [("inbound", "hi")])
    desk.get(f"/admin/conversations/{cid}")
    for spelling in ("vip", "VIP", " Vip "):
        desk.post(f"/admin/conversations/{cid}/tags", {"tags": spelling})
    assert query(lambda: db.session.scalar(select(func.count()).select_from(tags.Tag))) == 1
    assert tags_of(query, cid) == ["vip"]
