"""Admin inbox and thread pages with 100,000 conversations and 1,000,000 messages in PostgreSQL.

Prints each page's server time (p50/p95 over REQUESTS requests, in-process through Flask's test
client: the app's own work, no network) and the SQL statements it ran (target: p95 ≤ 100 ms and
a constant number of statements, not growing with the page's rows).

The data is bulk-loaded with INSERT ... SELECT generate_series (bench/admin_data.py) into its own
database, kept between runs: loading is skipped when the database already holds this loader's data.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from sqlalchemy import event

from bench import admin_data
from bench.report import Table, median, percentile
from bench.servers import service_env

REQUESTS = int(os.environ.get("BENCH_ADMIN_REQUESTS", "50"))
MIN_REQUESTS, PAGE_SECONDS = 10, 10.0  # a slow page stops after 10 s once it has 10 samples
WARMUP = 3
TARGET_P95_MS = 100.0
EMAIL, PASSWORD = "bench@example.com", "bench-password-123"


@dataclass
class Page:
    name: str
    path: str
    rows: str


def run() -> list[Table]:
    try:
        import app.admin  # noqa: F401
        from app.conversations.queries import Cursor
    except Exception as exc:  # the admin is being written while the bench is; say so rather than crash
        return [skipped(f"{type(exc).__name__}: {exc}")]
    url, load_note = admin_data.ensure()
    flask_app = make_app(url)
    client = flask_app.test_client()
    login(flask_app, client)
    counter = StatementCounter(flask_app)
    t = Table(f"Admin pages: {admin_data.CONVERSATIONS:,} conversations, {admin_data.MESSAGES:,} messages "
              f"(PostgreSQL), server time in-process, {REQUESTS} requests a page "
              f"(at least {MIN_REQUESTS}, at most {PAGE_SECONDS:.0f} s)",
              ["page", "rows shown", "requests", "p50 ms", "p95 ms", "target p95 ≤ 100 ms", "SQL statements"])
    for page in pages(url, Cursor):
        times, counts, status = measure(client, counter, page.path)
        p95 = percentile(times, 95)
        statements = str(counts[-1]) if len(set(counts)) == 1 else f"{min(counts)}–{max(counts)} (varies)"
        name = page.name + ("" if status == 200 else f" (HTTP {status})")
        t.add(name, page.rows, len(times), f"{median(times):.1f}", f"{p95:.1f}",
              "meets" if p95 <= TARGET_P95_MS else "MISSES", statements)
    t.note(load_note)
    t.note("SQL statements per request, counted with a before_cursor_execute listener (BEGIN/COMMIT and the "
           "pool's pre-ping not counted); a thread page's first request marks it read (one UPDATE more), "
           "the timed ones find it read")
    return [t]


def skipped(reason: str) -> Table:
    t = Table("Admin pages", ["result"])
    t.add(f"skipped: admin not available ({reason})")
    return t


def make_app(url: str):
    from app import create_app

    flask_app = create_app({**service_env(url), "LOG_FORMAT": "text", "WTF_CSRF_ENABLED": False})
    flask_app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain http
    flask_app.config["REMEMBER_COOKIE_SECURE"] = False
    return flask_app


def login(flask_app, client) -> None:
    from sqlalchemy import select

    from app.accounts.models import User
    from app.accounts.service import create_user
    from app.extensions import db

    with flask_app.app_context():
        if db.session.scalar(select(User).where(User.email == EMAIL)) is None:
            create_user(EMAIL, PASSWORD, name="Bench Agent")
            db.session.commit()
        db.session.remove()
    answer = client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"admin login answered {answer.status_code}")


class StatementCounter:
    def __init__(self, flask_app):
        from app.extensions import db

        self.count = 0
        with flask_app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        self.count += 1


def measure(client, counter: StatementCounter, path: str) -> tuple[list[float], list[int], int]:
    status = 0
    for _ in range(WARMUP):
        status = client.get(path).status_code
    times, counts = [], []
    deadline = time.perf_counter() + PAGE_SECONDS
    for _ in range(REQUESTS):
        if len(times) >= MIN_REQUESTS and time.perf_counter() > deadline:
            break
        counter.count = 0
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        counts.append(counter.count)
        status = answer.status_code
    return times, counts, status


def pages(url: str, cursor_class) -> list[Page]:
    deep = admin_data.conversation_at(url, admin_data.CONVERSATIONS // 2)
    cursor = cursor_class(deep[0], deep[1]).encode()
    small, large = admin_data.THREADS
    page_size = thread_page_size()
    return [
        Page("inbox, first page", "/admin/", "50"),
        Page("inbox, filter unread", "/admin/?filter=unread", "50"),
        Page("inbox, filter open + flagged", "/admin/?filter=open&filter=flagged", "50"),
        Page("inbox, deep page via cursor (50,000th thread)", f"/admin/?cursor={cursor}", "50"),
        Page(f"search '{admin_data.COMMON_WORD}' (in 5% of messages)", f"/admin/?q={admin_data.COMMON_WORD}",
             "50"),
        Page(f"search '{admin_data.RARE_WORD}' (in {admin_data.RARE_COUNT} messages)",
             f"/admin/?q={admin_data.RARE_WORD}", "50"),
        Page(f"search '{admin_data.NO_MATCH_WORD}' (in no message)", f"/admin/?q={admin_data.NO_MATCH_WORD}",
             "0"),
        Page("search a contact name", f"/admin/?q={admin_data.NAME_SEARCH}", "50"),
        Page(f"thread, {small[1]} messages", f"/admin/conversations/{small[0]}",
             str(min(small[1], page_size))),
        Page(f"thread, {large[1]} messages", f"/admin/conversations/{large[0]}",
             f"{min(large[1], page_size)}" + (" (page size)" if page_size < large[1] else "")),
    ]


def thread_page_size() -> int:
    """How many messages a thread page shows (the newest), as the admin defines it."""
    from app.admin import thread

    return int(getattr(thread, "PAGE_MESSAGES", 10**9))
