"""Scrape cost at 500k messages: the three full-table aggregates /metrics used to run, against the
trigger-kept counters of migration 0005. DROPS the public schema of BENCH_DATABASE_URL.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/scratch python -m bench.metrics_scrape
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from sqlalchemy import create_engine, text

from app import create_app
from app.migrate import upgrade

ROWS = 500_000
OLD_QUERIES = [
    "SELECT direction, status, count(*) FROM messages GROUP BY direction, status",
    "SELECT count(*) FROM messages "
    "WHERE direction = 'outbound' AND status = 'queued' AND provider_id IS NULL",
    "SELECT coalesce(sum(attempts), 0), count(send_latency_ms), coalesce(sum(send_latency_ms), 0) "
    "FROM messages WHERE direction = 'outbound'",
]
FILL = """
    INSERT INTO messages (sid, conversation_id, direction, status, from_number, to_number, body,
        media_urls, encoding, num_segments, source, date_created, date_updated, attempts,
        outcome_unknown, send_latency_ms)
    SELECT 'SM' || g, 1, CASE WHEN g % 3 = 0 THEN 'inbound' ELSE 'outbound' END,
        (ARRAY['queued', 'sent', 'delivered', 'failed', 'received'])[1 + g % 5],
        '+12025550199', '+14155550123', 'hello', '[]', 'GSM-7', 1, 'api', now(), now(), g % 3,
        false, CASE WHEN g % 2 = 0 THEN 40 ELSE NULL END
    FROM generate_series(1, :rows) g
"""


def timed(fn: Callable[[], object], runs: int = 5) -> tuple[float, float]:
    """Best and median milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    url = os.environ["BENCH_DATABASE_URL"]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(url, "0003")
    with engine.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (phone, opted_out, created_at, updated_at) "
                "VALUES ('+14155550123', false, now(), now())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO conversations (our_number, contact_id, status, flagged, tags, "
                "unread_count, last_message_at, created_at) "
                "VALUES ('+12025550199', 1, 'open', false, '[]', 0, now(), now())"
            )
        )
        conn.execute(text(FILL), {"rows": ROWS})
        conn.execute(text("ANALYZE messages"))
        best, median = timed(lambda: [conn.execute(text(q)).all() for q in OLD_QUERIES])
        print(f"before, three aggregates per scrape: best {best:.1f} ms, median {median:.1f} ms")
    upgrade(url, "head")
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": "x" * 32,
            "TELEFONIE_API_KEY": "k",
            "WEBHOOK_SECRET": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        }
    )
    client = app.test_client()
    client.get("/metrics")
    best, median = timed(lambda: client.get("/metrics"))
    print(f"after, GET /metrics (whole request): best {best:.1f} ms, median {median:.1f} ms")
    with engine.connect() as conn:
        conn.execute(
            text("UPDATE messages SET status = 'delivered' WHERE id <= 1000 AND direction = 'outbound'")
        )
    print(f"after, 1,000 changes since the last scrape: {timed(lambda: client.get('/metrics'), 1)[0]:.1f} ms")
    scraped = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in client.get("/metrics").get_data(as_text=True).splitlines()
        if line.startswith("sms_messages{")
    }
    with engine.connect() as conn:
        truth = {
            f'sms_messages{{direction="{d}",status="{s}"}}': float(n)
            for d, s, n in conn.execute(text(OLD_QUERIES[0]))
        }
    print("counters equal a full count:", scraped == truth)


if __name__ == "__main__":
    main()
