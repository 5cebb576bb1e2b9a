"""Webhook throughput on PostgreSQL under gunicorn, next to a bare and a one-INSERT Flask endpoint.

Every scenario run gets a fresh gunicorn (the same settings for all), a warm-up, then up to
REQUESTS timed requests or SECONDS, whichever ends first, over CONCURRENCY keep-alive connections
from a separate load-generator process. The scenarios run in ROUNDS interleaved rounds (bare,
insert, inbound, inbound with rules, status; again...) so that noise from anything else on the
machine hits them alike; ratios are the median of the per-round ratios. After every run the
database is checked against what was acknowledged: the rows present must be exactly the ones
answered 204.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from bench import payloads
from bench.baseline_app import TABLE_DDL
from bench.loadgen import CONCURRENCY, LoadResult, drive
from bench.report import Table, busy_elsewhere, ms, percentile, ratio
from bench.servers import WEBHOOK_SECRET, connect, gunicorn, gunicorn_settings, recreate_database, service_env

DATABASE = "bench_webhooks"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "8000"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "300"))
RULES = 1000
STATUS_WAVE = 200  # sending, sent, delivered for 200 messages, then the next 200
NAMES = {"bare": "POST /bare (baseline)", "insert": "POST /insert (baseline)", "inbound": "inbound webhook",
         "inbound_rules": f"inbound webhook, {RULES:,} rules on", "status": "status webhook"}
TARGETS = {"inbound": 0.6, "status": 0.8}


@dataclass
class Runs:
    """One scenario over all rounds."""

    name: str
    results: list[LoadResult] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    rule_counts: list[tuple[int, int, int]] = field(default_factory=list)  # hits, matching bodies, replies

    @property
    def rps(self) -> list[float]:
        return [r.rps for r in self.results]

    @property
    def latencies(self) -> list[float]:
        return [x for r in self.results for x in r.latencies_ms]

    @property
    def errors(self) -> int:
        return sum(r.errors(204) for r in self.results)

    @property
    def check(self) -> str:
        bad = [c for c in self.checks if c != "ok"]
        return "ok" if not bad else "; ".join(bad)


def run() -> list[Table]:
    url = setup()
    runs = {key: Runs(name) for key, name in NAMES.items()}
    seed_conversations(url, payloads.senders())  # the inbound senders: known contacts, as in steady state
    recipients = seed_conversations(url, payloads.senders(500, first=500))
    busy = []
    for round_no in range(ROUNDS):
        busy.append(busy_elsewhere())
        runs["bare"].results.append(baseline(url, "/bare", round_no, runs["bare"]))
        runs["insert"].results.append(baseline(url, "/insert", round_no, runs["insert"]))
        set_rules(url, enabled=False)
        runs["inbound"].results.append(inbound(url, f"r{round_no}", runs["inbound"]))
        set_rules(url, enabled=True)
        runs["inbound_rules"].results.append(inbound(url, f"r{round_no}rules", runs["inbound_rules"]))
        runs["status"].results.append(status(url, round_no, recipients, runs["status"]))
        print(f"   round {round_no + 1}/{ROUNDS} (CPU busy elsewhere before it {busy[-1]:.0%}): " + ", ".join(
            f"{key} {r.results[-1].rps:.0f}/s" for key, r in runs.items()), flush=True)
    t = table(runs)
    t.note("CPU busy with other work in the second before each round (the bench idle): "
           + ", ".join(f"{x:.0%}" for x in busy) + f" of {os.cpu_count()} CPUs")
    return [t]


def setup() -> str:
    from app.migrate import upgrade

    url = recreate_database(DATABASE)
    upgrade(url)
    with connect(url) as conn:
        conn.execute(TABLE_DDL)
    create_rules(url, payloads.keywords(RULES))
    return url


def baseline(url: str, path: str, round_no: int, runs: Runs) -> LoadResult:
    with connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0]
    # The service's environment too: gunicorn.conf.py checks the service's settings on start.
    with gunicorn("bench.baseline_app:app", service_env(url), f"baseline{path.replace('/', '-')}",
                  "/ready") as (host, port):
        distinct = payloads.baseline_requests(host, port, path, WEBHOOK_SECRET, 2000)
        requests = [distinct[i % len(distinct)] for i in range(WARMUP + 4 * REQUESTS)]
        result = drive(host, port, requests, WARMUP, SECONDS)
    if path == "/insert":
        with connect(url) as conn:
            stored = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0] - before
        acked = result.statuses.count(204)
        runs.checks.append("ok" if stored == acked else f"round {round_no + 1}: {stored} rows, {acked} acked")
    return result


def inbound(url: str, tag: str, runs: Runs, app_spec: str = "wsgi:app") -> LoadResult:
    bodies = payloads.inbound_bodies(WARMUP + REQUESTS, payloads.keywords(RULES))
    with connect(url) as conn:
        hits_before = conn.execute("SELECT count(*), count(*) FILTER (WHERE sent) FROM rule_hits").fetchone()
    with gunicorn(app_spec, service_env(url), f"service-inbound-{tag}", "/healthz") as (host, port):
        requests, ids = payloads.inbound_requests(host, port, WEBHOOK_SECRET, tag, bodies, payloads.senders())
        result = drive(host, port, requests, WARMUP, SECONDS)
    acked = {pid for pid, code in zip(ids, result.statuses, strict=True) if code == 204}
    with connect(url) as conn:
        stored = {row[0] for row in conn.execute(
            "SELECT provider_id FROM messages WHERE provider_id LIKE %s", (f"IN-{tag}-%",))}
        hits = conn.execute("SELECT count(*), count(*) FILTER (WHERE sent) FROM rule_hits").fetchone()
    runs.checks.append("ok" if stored == acked else f"{tag}: {len(stored - acked)} stored but not acked, "
                       f"{len(acked - stored)} acked but missing")
    words = set(payloads.keywords(RULES))
    matching = sum(1 for body, code in zip(bodies, result.statuses, strict=True)
                   if code == 204 and body.split()[0] in words)
    runs.rule_counts.append((hits[0] - hits_before[0], matching, hits[1] - hits_before[1]))
    return result


def status(url: str, round_no: int, recipients: list[tuple[int, str]], runs: Runs) -> LoadResult:
    tag = f"ST-r{round_no}-"
    count = -(-(WARMUP + REQUESTS) // len(payloads.STATUS_STEPS))
    messages = seed_outbound(url, tag, count, recipients)
    with gunicorn("wsgi:app", service_env(url), f"service-status-r{round_no}", "/healthz") as (host, port):
        requests, keys = [], []
        for start in range(0, count, STATUS_WAVE):
            wave_requests, wave_keys = payloads.status_requests(host, port, WEBHOOK_SECRET,
                                                                messages[start:start + STATUS_WAVE])
            requests += wave_requests
            keys += wave_keys
        result = drive(host, port, requests, WARMUP, SECONDS)
    acked = {key for key, code in zip(keys, result.statuses, strict=True) if code == 204}
    with connect(url) as conn:
        stored = {(p, s) for p, s in conn.execute(
            "SELECT provider_id, status FROM receipts WHERE provider_id LIKE %s", (tag + "%",))}
        unapplied = conn.execute("SELECT count(*) FROM receipts WHERE provider_id LIKE %s AND NOT applied",
                                 (tag + "%",)).fetchone()[0]
    runs.checks.append("ok" if stored == acked and unapplied == 0 else
                       f"round {round_no + 1}: {len(stored ^ acked)} receipts differ, "
                       f"{unapplied} not applied")
    return result


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


def seed_outbound(url: str, tag: str, count: int, recipients: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """`count` outbound messages already handed to the provider (provider id known, status queued)."""
    columns = ("sid, conversation_id, direction, status, from_number, to_number, body, media_urls, encoding, "
               "num_segments, source, provider_id, date_created, date_updated, attempts, outcome_unknown")
    messages = []
    with connect(url) as conn, conn.cursor().copy(f"COPY messages ({columns}) FROM STDIN") as copy:
        for i in range(count):
            conversation_id, phone = recipients[i % len(recipients)]
            pid = f"{tag}{i:06d}"
            copy.write_row((f"SM{pid}", conversation_id, "outbound", "queued", payloads.OUR, phone,
                            "Your order has shipped.", "[]", "GSM-7", 1, "api", pid, "now", "now", 1, False))
            messages.append((pid, phone))
    return messages


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


def table(runs: dict[str, Runs]) -> Table:
    per_round = {key: r.rps for key, r in runs.items()}

    def median_ratio(top: str, bottom: str) -> float:
        return statistics.median(a / b for a, b in zip(per_round[top], per_round[bottom], strict=True))

    t = Table(f"Webhooks: PostgreSQL, {gunicorn_settings()}; {CONCURRENCY} connections; {ROUNDS} rounds of "
              f"{SECONDS:.0f} s (or {REQUESTS:,} requests) after {WARMUP} warm-up requests",
              ["scenario", "req/s (median)", "rounds", "p50 ms", "p99 ms", "errors", "vs /insert",
               "DB = acked"])
    for key, r in runs.items():
        t.add(r.name, f"{statistics.median(r.rps):.0f}", " / ".join(f"{x:.0f}" for x in r.rps),
              ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99)), r.errors,
              ratio(median_ratio(key, "insert"), TARGETS.get(key)), r.check if r.checks else "n/a")
    for key in ("inbound", "status", "inbound_rules"):
        p99 = percentile(runs[key].latencies, 99)
        t.note(f"{runs[key].name}: p99 {p99:.1f} ms ({'meets' if p99 <= 50 else 'MISSES'} ≤ 50 ms), "
               f"{runs[key].errors} errors ({'meets' if runs[key].errors == 0 else 'MISSES'} zero)")
        samples = [s for res in runs[key].results for s in res.error_samples][:3]
        if samples:
            t.note(f"  first errors: {samples}")
    hits, matching, replies = (sum(c[i] for c in runs["inbound_rules"].rule_counts) for i in range(3))
    t.note(f"inbound with consent and {RULES:,} first-word rules / the same without rules: "
           f"{ratio(median_ratio('inbound_rules', 'inbound'), 0.9)}; {payloads.MATCH_SHARE:.0%} of bodies "
           f"match a rule: {hits} rule hits for {matching} acknowledged matching bodies, {replies} replies "
           "queued (the loop guard holds back the rest)")
    t.note(f"/insert / /bare: {median_ratio('insert', 'bare'):.2f}; ratios are medians of per-round ratios, "
           "latency percentiles pool all rounds")
    return t
