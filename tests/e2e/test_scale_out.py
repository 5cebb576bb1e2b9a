"""Scale-out: two gunicorn web processes (two ports) and two delivery workers on one PostgreSQL
database and the sandbox. Inbound webhooks are spread over both webs, each one also posted again
concurrently to both (the provider's retries); each message must be stored once and each reply
sent once, counted at the sandbox. A rule created through one web answers on the other at once
(rules caches are refreshed through LISTEN/NOTIFY, app/cachebus.py).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import free_port, inbound_payload, signed_headers, wait_until
from tests.e2e.test_loop import BIN, Stack, sbx, sent_to

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("TEST_DB") != "postgres", reason="scale-out needs PostgreSQL"),
]
CUSTOMERS = [f"+1415555{3000 + i:04d}" for i in range(24)]


class TwoOfEach(Stack):
    """Stack with a second web (its own port) and a second worker."""

    def start_all(self) -> None:
        self.other_port = free_port()
        self.other = f"http://127.0.0.1:{self.other_port}"
        super().start_all()
        self.start(
            "web2",
            str(BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.other_port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "wsgi:app",
        )
        self.start("worker2", str(BIN / "flask"), "--app", "wsgi", "worker")
        if not wait_until(lambda: _ready(self.other + "/readyz"), 30, 0.2):
            raise RuntimeError("the second web did not come up:\n" + self.logs())


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def two(database_url, tmp_path_factory):
    s = TwoOfEach(database_url, tmp_path_factory.mktemp("scale"))
    try:
        s.start_all()
        yield s
    finally:
        s.stop()  # every process, even when a test or the start failed


@pytest.fixture
def stack2(two, app):
    two.api_key = two.cli("api-keys", "create", "scale").strip().splitlines()[-1]
    requests.post(two.sandbox + "/simulate/reset", headers={"X-API-Key": "test-telefonie-key"}, timeout=10)
    yield two


def call(base: str, key: str, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, base + path, headers={"X-API-Key": key}, timeout=30, **kw)


def post(base: str, raw: bytes) -> int:
    return requests.post(
        base + "/webhooks/telefonie/inbound", data=raw, headers=signed_headers(raw), timeout=30
    ).status_code


def test_spread_over_two_webs_each_message_stored_once_and_each_reply_sent_once(stack2):
    rule = call(
        stack2.base,
        stack2.api_key,
        "POST",
        "/api/v1/rules",
        json={"name": "hours", "match": "first_word", "patterns": ["HOURS"], "reply": "Open 9-5."},
    )
    assert rule.status_code == 201, rule.text
    raws = [json.dumps(inbound_payload(c, "HOURS today?")).encode() for c in CUSTOMERS]
    # each webhook three times at once: twice to one web, once to the other; webs alternate
    jobs = [
        (base, raw)
        for i, raw in enumerate(raws)
        for base in (
            (stack2.base, stack2.other, stack2.base) if i % 2 else (stack2.other, stack2.base, stack2.other)
        )
    ]
    with ThreadPoolExecutor(24) as pool:
        codes = list(pool.map(lambda job: post(*job), jobs))
    assert codes == [204] * len(jobs), stack2.logs()
    for base in (stack2.base, stack2.other):  # both webs see the same database
        listing = call(
            base, stack2.api_key, "GET", "/api/v1/messages", params={"direction": "inbound", "page_size": 100}
        ).json()
        assert listing["total"] == len(CUSTOMERS)
        assert sorted(m["from"] for m in listing["messages"]) == sorted(CUSTOMERS)
    assert wait_until(lambda: all(len(sent_to(stack2, c)) >= 1 for c in CUSTOMERS), 40, 0.3), stack2.logs()
    time.sleep(2)  # a second send would come from the other worker's claim within this time
    for customer in CUSTOMERS:
        assert [m["body"] for m in sent_to(stack2, customer)] == ["Open 9-5."], customer
    replies = sbx(stack2, "GET", "/messages", params={"direction": "outbound", "page_size": 100}).json()
    assert len(replies["messages"]) == len(CUSTOMERS)


def test_a_rule_changed_elsewhere_answers_on_both_webs_at_once(stack2, database_url):
    """The rule changes in another process (plain SQL here); every web process drops its cached
    rules at once. Before: up to 2 s of the old reply in each process."""
    rule = call(
        stack2.base,
        stack2.api_key,
        "POST",
        "/api/v1/rules",
        json={"name": "menu", "match": "first_word", "patterns": ["MENU"], "reply": "Menu v1"},
    )
    assert rule.status_code == 201, rule.text
    warm = [f"+1415555{3100 + i:04d}" for i in range(8)]  # every gunicorn worker caches v1
    for i, customer in enumerate(warm):
        assert (
            post((stack2.base, stack2.other)[i % 2], json.dumps(inbound_payload(customer, "MENU")).encode())
            == 204
        )
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE rules SET reply = 'Menu v2' WHERE id = :id"), {"id": rule.json()["id"]})
    finally:
        engine.dispose()
    time.sleep(0.3)  # NOTIFY arrives in milliseconds
    after = [f"+1415555{3200 + i:04d}" for i in range(8)]
    for i, customer in enumerate(after):
        assert (
            post((stack2.base, stack2.other)[i % 2], json.dumps(inbound_payload(customer, "MENU")).encode())
            == 204
        )
    assert wait_until(lambda: all(len(sent_to(stack2, c)) == 1 for c in warm + after), 40, 0.3), stack2.logs()
    assert {sent_to(stack2, c)[0]["body"] for c in warm} == {"Menu v1"}
    assert {sent_to(stack2, c)[0]["body"] for c in after} == {"Menu v2"}
