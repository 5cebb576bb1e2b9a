"""The per-process rule index (issue 8, the 1,000-rules bench's p99): a cold or invalidated index
is built by one thread while the others wait for it, and a worker fills its caches before it
takes a request (app/warm.py, gunicorn's post_worker_init)."""

from __future__ import annotations

import logging
import threading
import time

from app import cachebus, settings
from app.consent import service as consent
from app.extensions import db
from app.rules import service
from app.rules.crud import create_rule
from app.rules.engine import RuleIndex
from app.warm import warm
from tests.conftest import record_statements


def _create(app, specs: list[dict]) -> None:
    with app.app_context():
        for spec in specs:
            create_rule(spec)
        db.session.commit()
        db.session.remove()


def _rules(app, count: int) -> None:
    _create(app, [{"name": f"Keyword {i}", "match": "first_word", "patterns": [f"WORD{i}"],
                   "reply": f"Reply {i}", "tags": ["keyword"]} for i in range(count)])


def _slow_builds(monkeypatch) -> list[int]:
    """Count RuleIndex builds, each made slow enough for every thread to arrive while it runs."""
    builds: list[int] = []
    real = RuleIndex.build

    def build(specs):
        builds.append(1)
        time.sleep(0.2)
        return real(specs)

    monkeypatch.setattr(RuleIndex, "build", staticmethod(build))
    return builds


def _from_threads(app, count: int) -> list:
    barrier = threading.Barrier(count)
    found: list = []

    def read() -> None:
        with app.app_context():
            barrier.wait()
            try:
                found.append(service.rule_index())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=read) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return found


def test_a_cold_index_is_built_once_while_the_other_threads_wait_for_it(app, monkeypatch, generations):
    _rules(app, 3)
    service.invalidate_cache()
    builds = _slow_builds(monkeypatch)
    found = _from_threads(app, 8)
    assert len(found) == 8
    assert len(builds) == 1, f"{len(builds)} threads built the index"
    assert all(index is found[0] for index in found)
    assert sorted(spec.name for spec in found[0].rules) == ["Keyword 0", "Keyword 1", "Keyword 2"]


def test_an_announced_rule_change_is_rebuilt_once_and_seen_by_every_thread(app, monkeypatch, generations):
    _rules(app, 2)
    with app.app_context():
        before = service.rule_index()
        db.session.remove()
    _create(app, [{"name": "Late", "match": "exact", "patterns": ["LATE"], "reply": "late"}])
    generations["rules"] += 1  # what the listener does on the NOTIFY the change sends
    builds = _slow_builds(monkeypatch)
    found = _from_threads(app, 6)
    assert len(builds) == 1
    assert found[0] is not before
    assert {spec.name for spec in found[0].rules} == {"Keyword 0", "Keyword 1", "Late"}
    assert all(index is found[0] for index in found)


def test_a_fresh_index_is_always_rebuilt(app, monkeypatch, generations):
    _rules(app, 1)
    with app.app_context():
        first = service.rule_index()
        assert service.rule_index() is first
        assert service.rule_index(fresh=True) is not first
        db.session.remove()


def test_a_thread_waits_only_so_long_for_another_threads_rebuild(app, monkeypatch):
    """A stuck holder (its query behind a table lock) cannot hold every other thread forever."""
    _rules(app, 1)
    service.invalidate_cache()
    monkeypatch.setattr(service, "BUILD_WAIT", 0.2)
    assert service._build_lock.acquire()
    try:
        with app.app_context():
            started = time.monotonic()
            index = service.rule_index()
            db.session.remove()
        assert time.monotonic() - started < 5
        assert [spec.name for spec in index.rules] == ["Keyword 0"]
    finally:
        service._build_lock.release()


def test_a_warmed_process_answers_its_first_lookups_from_memory(app, generations):
    _rules(app, 5)
    service.invalidate_cache()
    settings.invalidate_cache()
    consent.invalidate_cache()
    assert warm(app) is True
    with app.app_context():
        engine = db.engine
    with record_statements(engine) as seen, app.app_context():
        assert len(service.rule_index().rules) == 5
        settings.get_all()
        consent.keyword_set()
        db.session.remove()
    assert seen == []
    if engine.dialect.name == "postgresql":
        assert cachebus.is_live()


def test_a_warmed_process_has_its_rules_replies_compiled_within_its_budget(app, generations, monkeypatch):
    from app import warm as warm_module

    _create(app, [{"name": "broken", "match": "first_word", "patterns": ["BROKEN"], "reply": "Reply"}])
    _rules(app, 5)
    with app.app_context():  # a reply the editor would refuse, as an old row or an import might hold
        db.session.execute(db.text("UPDATE rules SET reply = '{{ contact.name ' WHERE name = 'broken'"))
        db.session.commit()
        db.session.remove()
    service.invalidate_cache()
    assert warm(app) is True
    with app.app_context():
        index = service.rule_index()
        db.session.remove()
    compiled = {spec.name for spec in index.rules if "compiled_reply" in vars(spec)}
    assert compiled == {f"Keyword {i}" for i in range(5)}  # the broken one is left to the engine

    monkeypatch.setattr(warm_module, "REPLY_BUDGET", 0.0)  # no time: nothing compiled, still warm
    service.invalidate_cache()
    assert warm(app) is True
    with app.app_context():
        index = service.rule_index()
        db.session.remove()
    assert not any("compiled_reply" in vars(spec) for spec in index.rules)


def test_warming_against_a_database_that_is_down_is_not_fatal(app, caplog):
    from app import create_app

    handlers = logging.getLogger("app").handlers[:]  # create_app sets the "app" logger up again
    keep = ("APP_ENV", "TESTING", "SECRET_KEY", "TELEFONIE_API_KEY", "WEBHOOK_SECRET",
            "TELEFONIE_BASE_URL", "PUBLIC_BASE_URL", "LOG_FORMAT")
    try:
        down = create_app({**{key: app.config[key] for key in keep},
                           "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nothing"})
    finally:
        logging.getLogger("app").handlers[:] = handlers
    service.invalidate_cache()
    logging.getLogger("app.warm").addHandler(caplog.handler)  # "app" does not propagate to root
    try:
        assert warm(down) is False
    finally:
        logging.getLogger("app.warm").removeHandler(caplog.handler)
    assert "caches not warmed (OperationalError" in caplog.text
    assert service._cache["index"] is None
