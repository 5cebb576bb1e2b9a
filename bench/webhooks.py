"""Webhook throughput on PostgreSQL under gunicorn (the Procfile's web line), driven by wrk.

Two ceilings measured in the same run, under the same gunicorn settings: a bare Flask JSON POST
and a Flask POST doing one INSERT … ON CONFLICT DO NOTHING + commit. Then four traffic mixes,
each without rules and with 1,000 keyword rules on (10% of bodies match one):

- known: 500 known senders texting one number of ours (steady state);
- new: every sender new (a promotion's burst: contact, thread and message per request);
- mixed: 5,000 senders × 3 numbers of ours (many new threads, then repeats);
- receipts: a receipt storm, sending/sent/delivered for recent sends, shuffled, one in ten
  arriving before the send is recorded (kept for later).

Every run gets a fresh server, and its own one-INSERT ceiling server beside it: wrk alternates
between the two in short slices (paired_run), so each ratio compares runs seconds apart on a host
whose speed swings by tens of percent within a minute. Requests are signed in Python and replayed
by wrk (bench/wrk.py, bench/signed.lua). After each run the database is compared with what was
acknowledged: every request carries a new provider id, so the rows added must equal the 204s; a
few more rows than 204s are requests in flight when wrk stopped (stored, answer not read), never
fewer.
"""

from __future__ import annotations

import itertools
import os
import random

from bench import payloads, wrk
from bench.baseline_app import TABLE_DDL
from bench.report import Table, busy_elsewhere, ratio
from bench.servers import WEBHOOK_SECRET, connect, gunicorn, gunicorn_settings, recreate_database, service_env

DATABASE = os.environ.get("BENCH_DATABASE", "bench_f")
RULES = 1000
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "40000"))  # more than a run can send: no wrap
OURS = (payloads.OUR, "+12025550198", "+12025550197")
MIXES = ("known", "new", "mixed", "receipts")
# BENCH_MIXES=known,new and BENCH_RULES=0 narrow a run (A/B checks); RESULTS.md is from a full run
RUN_MIXES = tuple(m for m in os.environ.get("BENCH_MIXES", ",".join(MIXES)).split(",") if m in MIXES)
RULES_RUNS = (False, True) if os.environ.get("BENCH_RULES", "1") != "0" else (False,)
# each mix: ceiling and service alternating, SLICES times SLICE_SECONDS each (paired_run)
SLICES = int(os.environ.get("BENCH_SLICES", "3"))
SLICE_SECONDS = int(os.environ.get("BENCH_SLICE_SECONDS", "4"))
AREAS = ("213", "305", "312", "415", "617", "646", "702", "718", "917", "303", "404", "503")
_area_counter = itertools.count()
TARGETS = {"known": 0.6, "new": 0.6, "mixed": 0.6, "receipts": 0.8}


def run() -> list[Table]:
    url = setup()
    seed_conversations(url, payloads.senders())  # the known senders
    recipients = seed_conversations(url, payloads.senders(500, first=500))
    busy = busy_elsewhere()
    results: dict[str, Measured] = {}
    results["bare"] = baseline(url, "/bare")
    for index, mix in enumerate(RUN_MIXES):
        for rules in RULES_RUNS:
            set_rules(url, enabled=rules)
            key = f"{mix}{'_rules' if rules else ''}"
            tag = f"{key[:1]}{index}{'r' if rules else 'n'}"
            results[f"insert_{key}"], results[key] = paired_run(url, mix, tag, recipients)
            for name in (f"insert_{key}", key):
                res, stored = results[name]
                print(f"   {name}: {res.rps:.0f}/s p99 {res.p99_ms:.1f} ms {stored} statuses {res.statuses}",
                      flush=True)
    return [table(results, busy)]


Measured = tuple[wrk.WrkResult, str]  # wrk's figures, the stored = acknowledged verdict


def paired_run(url: str, mix: str, tag: str, recipients: list[tuple[int, str]]) -> tuple[Measured, Measured]:
    """The one-INSERT ceiling and the service, both servers up, wrk alternating between them in
    SLICES slices of SLICE_SECONDS each: the host's speed swings by tens of percent within a
    minute here, and a ratio of runs taken seconds apart, slice by slice, cancels that."""
    tag = f"ST-{tag}-" if mix == "receipts" else tag
    items = receipt_items(url, tag, recipients) if mix == "receipts" else inbound_items(mix, tag, REQUESTS)
    base = [("/insert", p) for _, p in inbound_items("known", f"base{tag}{random.random():.6f}", REQUESTS)]
    with connect(url) as conn:
        rows_before = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0]
    ceiling_runs, service_runs = [], []
    env = service_env(url)
    with gunicorn("bench.baseline_app:app", env, f"baseline-{tag}", "/ready") as (bhost, bport), \
            gunicorn("wsgi:app", env, f"service-{mix}-{tag}", "/healthz") as (shost, sport):
        for i in range(SLICES):
            ceiling_runs.append(wrk.run(bhost, bport, wrk.write_requests(
                "baseline", WEBHOOK_SECRET, base[i::SLICES]), SLICE_SECONDS))
            service_runs.append(wrk.run(shost, sport, wrk.write_requests(
                f"service-{mix}", WEBHOOK_SECRET, items[i::SLICES]), SLICE_SECONDS))
    ceiling, service = wrk.combine(ceiling_runs), wrk.combine(service_runs)
    with connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0] - rows_before
        if mix == "receipts":
            stored = conn.execute("SELECT count(*) FROM receipts WHERE provider_id LIKE %s",
                                  (tag + "%",)).fetchone()[0]
        else:
            stored = conn.execute("SELECT count(*) FROM messages WHERE provider_id LIKE %s",
                                  (f"IN-{tag}-%",)).fetchone()[0]
    return (ceiling, check(rows, ceiling, SLICES)), (service, check(stored, service, SLICES))


def setup() -> str:
    from app.migrate import upgrade

    url = recreate_database(DATABASE)
    upgrade(url)
    with connect(url) as conn:
        conn.execute(TABLE_DDL)
        conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS bench_rows_key ON bench_rows (md5(body))")
    create_rules(url, payloads.keywords(RULES))
    return url


def baseline(url: str, path: str) -> Measured:
    with connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0]
    items = inbound_items("known", f"base{path.strip('/')}{random.random():.6f}", REQUESTS)
    # The service's environment too: gunicorn.conf.py checks the service's settings on start.
    with gunicorn("bench.baseline_app:app", service_env(url), f"baseline{path.replace('/', '-')}",
                  "/ready") as (host, port):
        result = wrk.run(host, port, wrk.write_requests("baseline", WEBHOOK_SECRET,
                                                        [(path, p) for _, p in items]))
    if path != "/insert":
        return result, "n/a"
    with connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0] - before
    return result, check(stored, result)


def check(stored: int, result: wrk.WrkResult, runs: int = 1) -> str:
    """Rows added against 204s: up to CONNECTIONS more per wrk run are requests in flight when it
    stopped (stored, answer not read); fewer would be a loss."""
    acked = result.count(204)
    in_flight = stored - acked
    if result.wrapped:
        return f"{stored} stored, {acked} acked (requests repeated: {result.wrapped})"
    if 0 <= in_flight <= wrk.CONNECTIONS * runs:
        return f"ok: {stored} stored, {acked} acked" + (f" (+{in_flight} in flight)" if in_flight else "")
    return f"MISMATCH: {stored} stored, {acked} acked"


def inbound_items(mix: str, tag: str, count: int) -> list[tuple[str, dict]]:
    bodies = payloads.inbound_bodies(count, payloads.keywords(RULES), seed=sum(tag.encode()))
    rng = random.Random(tag)
    known = payloads.senders()
    area = AREAS[next(_area_counter) % len(AREAS)]  # a fresh area code per run: new senders are new
    items = []
    for i, body in enumerate(bodies):
        if mix == "known":
            sender, ours = known[i % len(known)], payloads.OUR
        elif mix == "new":
            sender, ours = f"+1{area}{220 + i // 10000}{i % 10000:04d}", payloads.OUR
        else:
            sender, ours = f"+1{area}555{rng.randrange(5000):04d}", rng.choice(OURS)
        items.append((payloads.INBOUND_PATH, payloads.inbound_payload(f"IN-{tag}-{i:06d}", sender, body)
                      | {"to": ours}))
    return items


def receipt_items(url: str, tag: str, recipients: list[tuple[int, str]]) -> list[tuple[str, dict]]:
    """sending/sent/delivered for REQUESTS/3 recent sends, shuffled; one send in ten is not yet
    recorded (no message with its provider id), so its receipts are kept for later."""
    sends = REQUESTS // 3
    ids = [(f"{tag}{i:06d}", recipients[i % len(recipients)][1]) for i in range(sends)]
    recorded = [x for i, x in enumerate(ids) if i % 10]
    seed_outbound(url, tag, recorded, recipients)
    items = [(payloads.STATUS_PATH, payloads.status_payload(pid, phone, status))
             for pid, phone in ids for status in payloads.STATUS_STEPS]
    random.Random(tag).shuffle(items)
    return items


def seed_conversations(url: str, phones: list[str]) -> list[tuple[int, str]]:
    """A contact for each phone, each in a conversation with our number: [(conversation id, phone)]."""
    with connect(url) as conn:
        conn.execute("INSERT INTO contacts (phone, opted_out, created_at, updated_at) "
                     "SELECT unnest(%s::text[]), false, now(), now()", (phones,))
        rows = conn.execute(
            "INSERT INTO conversations (our_number, contact_id, status, flagged, tags, unread_count, "
            "last_message_at, created_at) SELECT %s, id, 'open', false, '[]', 0, now(), now() "
            "FROM contacts WHERE phone = ANY(%s) RETURNING id, contact_id", (payloads.OUR, phones)).fetchall()
        phone_of = dict(conn.execute("SELECT id, phone FROM contacts WHERE phone = ANY(%s)",
                                     (phones,)).fetchall())
    return [(conversation_id, phone_of[contact_id]) for conversation_id, contact_id in rows]


def seed_outbound(url: str, tag: str, sends: list[tuple[str, str]],
                  recipients: list[tuple[int, str]]) -> None:
    """Outbound messages already handed to the provider (provider id known, status queued)."""
    columns = ("sid, conversation_id, direction, status, from_number, to_number, body, media_urls, encoding, "
               "num_segments, source, provider_id, date_created, date_updated, attempts, outcome_unknown")
    conversation_of = {phone: cid for cid, phone in recipients}
    with connect(url) as conn, conn.cursor().copy(f"COPY messages ({columns}) FROM STDIN") as copy:
        for pid, phone in sends:
            copy.write_row((f"SM{pid}", conversation_of[phone], "outbound", "queued", payloads.OUR, phone,
                            "Your order has shipped.", "[]", "GSM-7", 1, "api", pid, "now", "now", 1, False))


def create_rules(url: str, words: list[str]) -> None:
    """Through the service's own code path (validation included), in one transaction; created off."""
    from app import create_app
    from app.extensions import db
    from app.rules.crud import create_rule

    app = create_app({**service_env(url), "LOG_FORMAT": "text"})
    with app.app_context():
        for i, word in enumerate(words):
            create_rule({"name": f"Keyword {word}", "match": "first_word", "patterns": [word],
                         "enabled": False, "priority": 100 + i % 50, "tags": ["keyword"],
                         "reply": "Thanks {{ contact.name }}! " + word.lower() + " details: example.com"})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def set_rules(url: str, *, enabled: bool) -> None:
    with connect(url) as conn:
        conn.execute("UPDATE rules SET enabled = %s", (enabled,))


def table(results: dict[str, Measured], busy: float) -> Table:
    t = Table(f"Webhooks: PostgreSQL, {gunicorn_settings()}; wrk {wrk.THREADS} threads, {wrk.CONNECTIONS} "
              f"connections; each run {SLICES} slices of {SLICE_SECONDS} s alternating with its own "
              "/insert ceiling",
              ["run", "req/s", "vs its /insert ceiling", "p50 ms", "p99 ms", "errors",
               "stored = acknowledged", "vs same mix without rules"])
    for key, (res, stored) in results.items():
        mix = key.removesuffix("_rules")
        ceiling = results.get(f"insert_{key}")
        without = results.get(mix) if key.endswith("_rules") and not key.startswith("insert_") else None
        own = res.rps / ceiling[0].rps if ceiling else None
        t.add(NAMES.get(key, key), f"{res.rps:.0f}",
              ratio(own, TARGETS.get(mix)) if own else "",
              f"{res.p50_ms:.1f}",
              f"{res.p99_ms:.1f}" + ("" if key == "bare" or key.startswith("insert") or res.p99_ms <= 50
                                      else " (MISSES ≤ 50)"),
              res.errors, stored,
              ratio(own / (without[0].rps / results[f"insert_{mix}"][0].rps), 0.9) if without else "")
    inserts = [r.rps for k, (r, _) in results.items() if k.startswith("insert_")]
    t.note(f"/insert ceilings over the run: {', '.join(f'{x:.0f}' for x in inserts)} req/s; /bare "
           f"{results['bare'][0].rps:.0f} req/s")
    t.note(f"each run: both servers up, wrk alternating ceiling and service {SLICES} times, "
           f"{SLICE_SECONDS} s each (the host's speed swings by tens of percent within a minute; slices "
           "seconds apart cancel that); req/s over the slices, p50 and p99 the mean of the slices'; "
           "with rules vs without: the ratio of the two runs' ratios to their own ceilings")
    t.note(f"stored = acknowledged: rows added vs 204s counted by wrk; up to {wrk.CONNECTIONS} more rows a "
           "slice are the requests in flight when wrk stopped (stored, answer not read); fewer rows would "
           "be a loss")
    best, held = max(inserts), wrk.CONNECTIONS
    t.note(f"p99 at {held} connections: wrk keeps {held} requests in flight, so the MEAN latency is "
           f"{held} / rate (Little's law): {1000 * held / best:.0f} ms at the best /insert ceiling "
           f"({best:.0f} req/s); a p99 of 50 ms needs more than {1000 * held / 50:.0f} req/s even with "
           "no spread at all")
    t.note(f"CPU busy with other work before the runs (the bench idle): {busy:.0%} of {os.cpu_count()} CPUs")
    return t


NAMES = {"bare": "POST /bare (ceiling)",
         "known": "known senders", "known_rules": "known senders, 1,000 rules",
         "new": "new senders", "new_rules": "new senders, 1,000 rules",
         "mixed": "5,000 senders × 3 numbers", "mixed_rules": "5,000 senders × 3 numbers, 1,000 rules",
         "receipts": "receipt storm", "receipts_rules": "receipt storm, 1,000 rules"}
NAMES.update({f"insert_{key}": f"POST /insert (ceiling, with {name})" for key, name in list(NAMES.items())
              if key != "bare"})
