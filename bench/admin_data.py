"""Bulk data for the admin benchmark: 100,000 contacts and conversations, 1,000,000 messages.

INSERT ... SELECT over generate_series, in PostgreSQL itself (no rows cross the wire), into the
migrated schema. Conversation THREADS[0] and [1] hold 50 and 500 messages; the others about 10
each. The database is kept between runs and marked with a comment naming this loader's VERSION:
a run with the same marker and row counts skips the load.
"""

from __future__ import annotations

import time
from datetime import datetime

from bench.servers import connect, database_exists, database_url, recreate_database

DATABASE = "bench_admin"
VERSION = "bench-admin-data v1"
CONVERSATIONS = 100_000
MESSAGES = 1_000_000
THREADS = ((2, 50), (1, 500))  # (conversation id, messages)
OUR = "+12025550199"
COMMON_WORD = "refund"
RARE_WORD = "zebra"
RARE_COUNT = 200
NO_MATCH_WORD = "xylophone"
NAME_SEARCH = "okafor"

FIRST_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jon"]
LAST_NAMES = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Müller"]
BODIES = (
    "Hi, is my order ready for pickup?", "Thanks, see you tomorrow at 10",
    "Can I move my appointment to Tuesday afternoon?", "What time do you close today?", "Ok great",
    "The package arrived but the box was damaged", "Do you have the blue one in a medium?",
    "Running 10 minutes late, sorry!", "Is parking available near the store?", "Got it",
    "Could you send me the invoice again please", "Where can I find my tracking number?",
    "Your order has shipped and arrives Thursday.", "We open at 9. See you soon!",
    "Your appointment is confirmed for Tuesday 3pm.", "Sorry about that, a new one is on its way.",
    "Yes, we have it in stock.", "Parking is free behind the building.", "Here is your tracking link.",
    "Can I get a refund for the damaged one?",
)

CONTACTS_SQL = """
INSERT INTO contacts (id, phone, name, opted_out, opted_out_at, created_at, updated_at)
SELECT g, '+1212' || lpad(g::text, 7, '0'),
       CASE WHEN mod(g, 3) = 0 THEN NULL
            ELSE (%(first)s::text[])[1 + mod(g, 10)] || ' ' || (%(last)s::text[])[1 + mod(g / 10, 8)] END,
       mod(g, 50) = 0, CASE WHEN mod(g, 50) = 0 THEN now() - interval '3 days' END,
       now() - interval '400 days', now() - interval '1 day'
FROM generate_series(1, %(n)s) g
"""

CONVERSATIONS_SQL = """
INSERT INTO conversations (id, our_number, contact_id, status, flagged, flag_reason, tags, unread_count,
                           last_message_at, last_message_preview, created_at)
SELECT g, %(our)s, g, CASE WHEN mod(g, 4) = 0 THEN 'closed' ELSE 'open' END, mod(g, 97) = 0,
       CASE WHEN mod(g, 97) = 0 THEN 'reads like a wish to stop messages' END, '[]'::jsonb,
       CASE WHEN mod(g, 7) = 0 THEN 1 + mod(g, 3) ELSE 0 END,
       now() - (g / 2) * interval '52 seconds', (%(bodies)s::text[])[1 + mod(g, 20)],
       now() - interval '400 days'
FROM generate_series(1, %(n)s) g
"""

# Messages 1..500 go to conversation 1, 501..550 to conversation 2, the rest round-robin to 3..N.
MESSAGES_SQL = """
INSERT INTO messages (id, sid, conversation_id, direction, status, from_number, to_number, body,
                      media_urls, encoding, num_segments, price, price_unit, error_code, error_message,
                      source, provider_id, date_created, date_sent, date_updated, attempts, outcome_unknown)
SELECT g, 'SM' || md5(g::text), c, d,
       CASE WHEN d = 'inbound' THEN 'received' WHEN mod(g, 101) = 1 THEN 'undelivered' ELSE 'delivered' END,
       CASE WHEN d = 'inbound' THEN phone ELSE %(our)s END,
       CASE WHEN d = 'inbound' THEN %(our)s ELSE phone END,
       CASE WHEN mod(g, %(rare_every)s) = 17 THEN 'Is the ' || %(rare)s || ' print back in stock?'
            ELSE (%(bodies)s::text[])[1 + mod(g * 7, 20)] END,
       '[]'::jsonb, 'GSM-7', 1,
       CASE WHEN d = 'outbound' THEN '-0.00750' END, CASE WHEN d = 'outbound' THEN 'USD' END,
       CASE WHEN d = 'outbound' AND mod(g, 101) = 1 THEN 30003 END,
       CASE WHEN d = 'outbound' AND mod(g, 101) = 1 THEN 'Unknown destination handset' END,
       CASE WHEN d = 'inbound' THEN 'provider' ELSE 'agent' END, 'BULK' || g,
       at, CASE WHEN d = 'outbound' THEN at END, at, CASE WHEN d = 'outbound' THEN 1 ELSE 0 END, false
FROM (
  SELECT g, c, CASE WHEN mod(g, 2) = 0 THEN 'inbound' ELSE 'outbound' END AS d,
         '+1212' || lpad(c::text, 7, '0') AS phone, now() - (%(n)s - g) * interval '2 seconds' AS at
  FROM (SELECT g, CASE WHEN g <= 500 THEN 1 WHEN g <= 550 THEN 2 ELSE 3 + mod(g - 551, %(convs)s - 2) END AS c
        FROM generate_series(1, %(n)s) g) numbered
) numbered_rows
"""

SEQUENCES_SQL = (
    "SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts))",
    "SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT max(id) FROM conversations))",
    "SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))",
)
MARKER_SQL = ("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
              "WHERE datname = current_database()")


def ensure() -> tuple[str, str]:
    """The database URL, loading the data first unless a previous run left it; and a note saying which."""
    from app.migrate import upgrade

    url = database_url(DATABASE)
    if database_exists(DATABASE) and _is_loaded(url):
        upgrade(url)  # no-op unless someone added a migration since the load
        return url, f"data: kept from an earlier run ({VERSION}); loading it took {_load_seconds(url)}"
    url = recreate_database(DATABASE)
    upgrade(url)
    started = time.monotonic()
    load(url)
    seconds = time.monotonic() - started
    with connect(url) as conn:
        conn.autocommit = True
        conn.execute(f"COMMENT ON DATABASE {DATABASE} IS '{VERSION}; load {seconds:.0f} s'")
    return url, (f"data: loaded in this run in {seconds:.0f} s "
                 "(INSERT ... SELECT generate_series, then VACUUM ANALYZE)")


def load(url: str) -> None:
    params = {"n": CONVERSATIONS, "our": OUR, "bodies": list(BODIES)}
    with connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(CONTACTS_SQL, {"n": CONVERSATIONS, "first": FIRST_NAMES, "last": LAST_NAMES})
        conn.execute(CONVERSATIONS_SQL, params)
        conn.execute(MESSAGES_SQL, {
            "n": MESSAGES, "convs": CONVERSATIONS, "our": OUR, "bodies": list(BODIES), "rare": RARE_WORD,
            "rare_every": MESSAGES // RARE_COUNT})
        for statement in SEQUENCES_SQL:
            conn.execute(statement)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE contacts, conversations, messages")


def _is_loaded(url: str) -> bool:
    with connect(url) as conn:
        marker = conn.execute(MARKER_SQL).fetchone()[0] or ""
        if not marker.startswith(VERSION):
            return False
        try:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)").fetchone()
        except Exception:
            return False
    return counts[0] >= CONVERSATIONS and counts[1] >= MESSAGES


def _load_seconds(url: str) -> str:
    with connect(url) as conn:
        marker = conn.execute(MARKER_SQL).fetchone()[0] or ""
    return marker.split("load ", 1)[-1] if "load " in marker else "an unknown time"


def conversation_at(url: str, position: int) -> tuple[datetime, int]:
    """(last_message_at, id) of the thread at `position` in the inbox's order, for a deep cursor."""
    with connect(url) as conn:
        return conn.execute("SELECT last_message_at, id FROM conversations ORDER BY last_message_at DESC, "
                            "id DESC OFFSET %s LIMIT 1", (position,)).fetchone()
