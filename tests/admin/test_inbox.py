"""The inbox: order, badges, filters, search, keyset paging, the JSON poll, and its SQL cost."""

from __future__ import annotations

import re
from html import unescape

from app.admin.inbox import PAGE_SIZE

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"


def rows_in(html: str) -> list[str]:
    return re.findall(r'<li class="thread-row[^"]*" data-id="(\d+)"', html)


def test_threads_newest_first_with_badges(desk, make):
    old = make("+14155550101", [("inbound", "old one")], name="Olga", minutes_ago=30)
    new = make(
        "+14155550102",
        [("inbound", "new one")],
        unread=2,
        flagged=True,
        flag_reason="reads like a wish to stop messages",
        minutes_ago=1,
    )
    out = make("+14155550103", [("inbound", "STOP")], opted_out=True, minutes_ago=5)
    html = desk.html("/admin/")
    assert rows_in(html) == [str(new), str(out), str(old)]
    assert "Olga" in html and "+14155550101" in html
    assert "badge-unread" in html and ">2<" in html
    assert "flagged" in html and "opted out" in html
    assert "new one" in html


def test_filters_as_query_args(desk, make, agent):
    unread = make("+14155550101", [("inbound", "a")], unread=1)
    closed = make("+14155550102", [("inbound", "b")], status="closed")
    flagged = make("+14155550103", [("inbound", "c")], flagged=True)
    opted = make("+14155550104", [("inbound", "STOP")], opted_out=True)
    mine = make("+14155550105", [("inbound", "e")], assignee_id=agent)
    cases = {
        "unread": [unread],
        "closed": [closed],
        "flagged": [flagged],
        "opted_out": [opted],
        "mine": [mine],
        "open": [mine, opted, flagged, unread],
    }
    for name, expected in cases.items():
        assert sorted(rows_in(desk.html(f"/admin/?filter={name}"))) == sorted(map(str, expected)), name
    assert rows_in(desk.html("/admin/?filter=open&filter=unread")) == [str(unread)]
    assert rows_in(desk.html("/admin/?filter=open,unread")) == [str(unread)]
    assert len(rows_in(desk.html("/admin/?filter=bogus"))) == 5


def test_search_by_number_name_and_text(desk, make):
    a = make("+14155550111", [("inbound", "Where is my parcel?")], name="Ana Lopez")
    b = make("+14155550122", [("inbound", "hours?")], name="Bob")
    assert rows_in(desk.html("/admin/?q=555011")) == [str(a)]
    assert rows_in(desk.html("/admin/?q=lopez")) == [str(a)]
    assert rows_in(desk.html("/admin/?q=HOURS")) == [str(b)]
    assert rows_in(desk.html("/admin/?q=nothing-like-this")) == []
    assert "No conversations match" in desk.html("/admin/?q=nothing-like-this")


def test_keyset_paging_with_older_link(desk, make, app):
    from app.extensions import db
    from tests.admin.conftest import make_thread

    with app.app_context():
        ids = [
            make_thread(f"+1415555{i:04d}", [("inbound", f"m{i}")], minutes_ago=i)
            for i in range(PAGE_SIZE + 5)
        ]
        db.session.remove()
    first = desk.html("/admin/")
    assert rows_in(first) == [str(i) for i in ids[:PAGE_SIZE]]
    older = unescape(re.search(r'<a href="([^"]+)" rel="next">Older</a>', first).group(1))
    second = desk.html(older)
    assert rows_in(second) == [str(i) for i in ids[PAGE_SIZE:]]
    assert 'rel="next"' not in second
    assert 'data-live="0"' in second  # older pages do not poll
    broken = desk.get("/admin/?cursor=garbage")
    assert broken.status_code == 200 and "no longer valid" in broken.get_data(as_text=True)


def test_inbox_json_for_polling(desk, make):
    cid = make("+14155550101", [("inbound", XSS_SCRIPT)], name=XSS_IMG, unread=1)
    data = desk.client.get("/admin/inbox.json").json
    [row] = data["conversations"]
    assert (
        row["id"] == cid and row["unread"] == 1 and row["preview"] == XSS_SCRIPT and row["label"] == XSS_IMG
    )
    assert row["url"] == f"/admin/conversations/{cid}"
    assert data["next_cursor"] is None
    assert desk.client.get("/admin/inbox.json?filter=closed").json["conversations"] == []


def test_hostile_text_is_escaped_in_inbox_and_search(desk, make):
    make("+14155550101", [("inbound", XSS_IMG)], name=XSS_SCRIPT)
    make("+14155550102", [("inbound", XSS_SCRIPT)])
    for html in (desk.html("/admin/"), desk.html("/admin/?q=alert"), desk.html("/admin/?q=" + XSS_SCRIPT)):
        assert XSS_IMG not in html and XSS_SCRIPT not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_sandbox_panel_only_in_development(desk, app):
    assert "Sandbox: text us" in desk.html("/admin/")
    app.config["APP_ENV"] = "production"
    try:
        assert "Sandbox: text us" not in desk.html("/admin/")
        assert (
            desk.post(
                "/admin/sandbox/inbound", {"from": "+14155550101", "to": "+12025550199", "body": "hi"}
            ).status_code
            == 404
        )
    finally:
        app.config["APP_ENV"] = "testing"


def test_inbox_sql_statements_do_not_grow_with_rows(desk, app, agent, count_statements):
    from app.extensions import db
    from tests.admin.conftest import make_thread

    def seed(n: int, offset: int) -> None:
        with app.app_context():
            for i in range(n):
                make_thread(
                    f"+1415556{offset + i:04d}",
                    [("inbound", "hi")],
                    name=f"C{i}",
                    unread=1,
                    tags=["a"],
                    assignee_id=agent if i % 2 else None,
                    minutes_ago=i,
                )
            db.session.remove()

    seed(5, 0)
    few = count_statements(lambda: desk.get("/admin/"))
    few_json = count_statements(lambda: desk.client.get("/admin/inbox.json"))
    seed(45, 100)
    many = count_statements(lambda: desk.get("/admin/"))
    many_json = count_statements(lambda: desk.client.get("/admin/inbox.json"))
    assert len(rows_in(desk.html("/admin/"))) == PAGE_SIZE
    assert few.count == many.count, many.statements
    assert few_json.count == many_json.count
    assert many.count <= 4, many.statements  # user, conversations with contacts, agents
