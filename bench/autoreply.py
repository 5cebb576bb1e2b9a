"""Auto-reply latency at half the maximum rate, and whether processing keeps up (issue #8).

The issue's target: "an auto-reply reaches the provider within 100 ms (p50) at half the maximum
rate; processing keeps up, so no backlog grows at the acknowledged rate."

Set-up (bench/delivery.py's helpers): a fresh, migrated PostgreSQL database; the sandbox as the
provider; the web app under gunicorn (gunicorn.conf.py, 2 workers x 8 threads) with
TELEFONIE_BASE_URL pointing at the sandbox and the sandbox's status webhooks coming back to it;
ONE `flask worker` delivery process at its production settings (8 sender threads). One enabled
keyword rule, made through app.rules.crud.create_rule: first word HOURS, reply "We are open 9-5".
Every inbound message starts with HOURS and comes from a new number (a thread of its own), so every
message gets a reply and the loop guard (3 replies a thread in 10 minutes) never holds one back.

1. Maximum rate: wrk replays signed inbound webhooks (bench/wrk.py, 32 connections, 8 s) while
   the worker sends the replies and the sandbox calls back: the acknowledged req/s of the whole
   system, auto-replies included. Then the worker drains for up to DRAIN s; what is still queued
   after that is set aside (marked failed, never sent) so that the next phase starts with an
   empty queue (one worker may drain far more slowly than the web app acknowledges, and waiting
   for all of it would not fit the bench's two minutes). Its status webhooks are left to settle.
2. Half rate: signed inbound webhooks at a steady half of that rate for 15 s, open loop: a paced
   Python sender (16 threads, keep-alive connections, requests signed beforehand) starts request
   i at t0 + i / rate whatever the answers do, so a slow server gets no breather (wrk is closed
   loop, and a Lua delay would pace each connection only after its own answers).

Latency of one auto-reply, from the database, every time on this machine's clock:

    inbound message stored         = inbound.date_updated
    reply accepted by the provider = date_created of the provider's message, as its status
                                     webhooks report it (receipts.payload, to the millisecond)
    latency                        = accepted - stored

- The inbound row's `date_created` is the provider's time from the payload, to the second; its
  `date_updated` is the web app's clock just before the row is inserted (the transaction, rule
  reply included, commits a few ms later).
- The sandbox stamps `date_created` when it takes the send request; every status webhook carries
  it and the web app keeps each one in `receipts` (linked by provider id): the literal "reaches
  the provider". The reply's own row cannot say when: record_sent stamps `date_updated`, but the
  status webhooks move it on within 50 ms.
- The worker's own columns give a second figure (in a note): `first_attempt_at` (the worker's
  clock when it claimed the row) + `send_latency_ms` (the send request, up to the 201). It reads
  lower than the provider's record, since `first_attempt_at` is taken before the claim's own
  transaction (SELECT … SKIP LOCKED, UPDATE, COMMIT), which takes tens of ms on a busy machine.

A reply never accepted within DRAIN s of the end counts as endless in the percentiles; a retried
one (none expected: no faults are injected) is counted in a note. The backlog is every reply
still queued for the provider (queued, no provider id), sampled each second of the phase, when
its last webhook was answered, and 5 s later; "worker msg/s" is how many replies the provider
accepted in those 5 s, the worker's pace while it still had a backlog. "Keeps up": at the end
of the phase at most one second of traffic waits, and 5 s later nothing does. The machine is
small and shared: figures move by tens of percent from run to run; the CPU note says what each
part used per message, which the load of others does not inflate. BENCH_AUTOREPLY_KEEP=1 keeps
the database afterwards, to look at by hand.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from contextlib import ExitStack

from bench import payloads, wrk
from bench.cpu import postgres_seconds, tree_seconds
from bench.delivery import sandbox_process, web_process, worker_process
from bench.report import Table, busy_elsewhere, percentile
from bench.servers import WEBHOOK_SECRET, connect, database_url, free_port, recreate_database, service_env

DATABASE = os.environ.get("BENCH_AUTOREPLY_DB", "bench_autoreply")
MAX_SECONDS = int(os.environ.get("BENCH_AUTOREPLY_MAX_SECONDS", "8"))
HALF_SECONDS = float(os.environ.get("BENCH_AUTOREPLY_HALF_SECONDS", "15"))
DRAIN = float(os.environ.get("BENCH_AUTOREPLY_DRAIN", "20"))  # most seconds to wait for a queue to empty
SETTLE = 5.0  # the "5 s later" of the backlog
SENDER_THREADS = 16
MAX_REQUESTS = 12000  # more than 8 s at 32 connections can send: no request is repeated
KEYWORD = "HOURS"
REPLY = "We are open 9-5"
TARGET_MS = 100.0
# a number range of their own per phase: every sender new
AREAS = {"max": "415", "half": "628", "within": "747"}
CPU_PARTS = ("web", "worker", "sandbox", "postgres")
# the backlog: replies still queued for the provider (the worker's due rows, app/conversations/models.py)
BACKLOG = ("SELECT count(*) FROM messages "
           "WHERE direction = 'outbound' AND status = 'queued' AND provider_id IS NULL")
# per inbound message of a phase: (provider's record − stored, worker's columns − stored, attempts,
# accepted); the first receipt of the reply carries the provider's date_created
LATENCIES = """
SELECT EXTRACT(EPOCH FROM p.accepted - i.date_updated) * 1000,
       EXTRACT(EPOCH FROM r.first_attempt_at - i.date_updated) * 1000 + r.send_latency_ms,
       r.attempts, r.provider_id IS NOT NULL
FROM messages i
LEFT JOIN messages r ON r.conversation_id = i.conversation_id AND r.direction = 'outbound'
     AND r.source = 'rule'
LEFT JOIN LATERAL (
    SELECT CAST(payload ->> 'date_created' AS timestamptz) AS accepted FROM receipts
    WHERE receipts.provider_id = r.provider_id ORDER BY receipts.id LIMIT 1
) p ON true
WHERE i.direction = 'inbound' AND i.provider_id LIKE %s
"""


def run() -> list[Table]:
    busy = busy_elsewhere()
    url = recreate_database(DATABASE)
    try:
        from app.migrate import upgrade

        upgrade(url)
        create_rule(url)
        with ExitStack() as stack:
            web_port = free_port()
            env = {**service_env(url), "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}"}
            sandbox_url, sandbox_pid = stack.enter_context(sandbox_process(env))
            env["TELEFONIE_BASE_URL"] = sandbox_url
            web_pid = stack.enter_context(web_process(web_port, env))
            worker_pid = stack.enter_context(worker_process(env, "autoreply-worker")).pid
            time.sleep(1.5)  # the worker connected and listening
            pids = {"web": web_pid, "worker": worker_pid, "sandbox": sandbox_pid}
            top = max_phase(url, web_port)
            print(f"   maximum: {top['rate']:.0f} req/s, backlog {top['backlog']} at the end, "
                  f"{top['backlog_later']} {SETTLE:.0f} s later, {top['set_aside']} set aside", flush=True)
            half = half_phase(url, web_port, top["rate"] / 2, pids)
            print(f"   half: {half['rate']:.0f} req/s, backlog {half['backlog']} at the end, "
                  f"{half['backlog_later']} {SETTLE:.0f} s later", flush=True)
            # The latency itself, where the worker keeps up: half of its own pace after the max phase
            within = half_phase(url, web_port, max(5.0, top["worker_rate"] / 2), pids, "within")
            print(f"   within: {within['rate']:.0f} req/s, backlog {within['backlog']} at the end",
                  flush=True)
    finally:
        if os.environ.get("BENCH_AUTOREPLY_KEEP") != "1":
            drop_database(DATABASE)
    return [table(top, half, busy, within)]


def create_rule(url: str) -> None:
    """Through the service's own code path (validation included), as bench/webhooks.py does."""
    from app import create_app
    from app.extensions import db
    from app.rules.crud import create_rule as create

    app = create_app({**service_env(url), "LOG_FORMAT": "text"})
    with app.app_context():
        create({"name": "Opening hours", "match": "first_word", "patterns": [KEYWORD], "enabled": True,
                "reply": REPLY})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def sender(phase: str, i: int) -> str:
    return f"+1{AREAS[phase]}{200 + i // 10000}{i % 10000:04d}"


def inbound(phase: str, i: int) -> dict:
    body = f"{KEYWORD} {('please', 'today?', 'on Sunday')[i % 3]}"
    return payloads.inbound_payload(f"IN-{phase}-{i:06d}", sender(phase, i), body)


def max_phase(url: str, port: int) -> dict:
    items = [(payloads.INBOUND_PATH, inbound("max", i)) for i in range(MAX_REQUESTS)]
    result = wrk.run("127.0.0.1", port, wrk.write_requests("autoreply-max", WEBHOOK_SECRET, items),
                     seconds=MAX_SECONDS)
    out = {"rate": result.rps, "requests": result.requests, "errors": result.errors,
           "p99_ms": result.p99_ms}
    out.update(after_phase(url, "max"))
    out["set_aside"] = set_aside(url)
    settle(url)
    return out


def half_phase(url: str, port: int, rate: float, pids: dict[str, int], phase: str = "half") -> dict:
    count = max(1, round(rate * HALF_SECONDS))
    signed = []
    for i in range(count):
        raw = json.dumps(inbound(phase, i)).encode()
        signed.append((raw, payloads.signed_headers(raw, WEBHOOK_SECRET)))
    cpu_before = cpu(pids)
    samples: list[int] = []
    stop = threading.Event()
    monitor = threading.Thread(target=watch_backlog, args=(url, stop, samples), daemon=True)
    monitor.start()
    sent = paced(port, signed, rate)
    stop.set()
    monitor.join()
    out = {"rate": count / sent["elapsed"], "target_rate": rate, "requests": count, "samples": samples,
           **sent}
    out.update(after_phase(url, phase))
    drain(url, phase, out["stored"])  # every reply accepted (or DRAIN s gone)
    settle(url)  # and their status webhooks back: the provider's record is in them
    used = {k: v - cpu_before[k] for k, v in cpu(pids).items()}
    out["cpu_ms"] = {k: v * 1000 / count for k, v in used.items()}
    out.update(latencies(url, phase))
    return out


def paced(port: int, signed: list[tuple[bytes, dict]], rate: float) -> dict:
    """Open loop: request i starts at t0 + i / rate on whichever sender thread is free."""
    lock = threading.Lock()
    following = iter(range(len(signed)))
    statuses = [0] * len(signed)
    durations = [0.0] * len(signed)
    late = [0.0] * len(signed)
    t0 = time.monotonic() + 0.2

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(following, None)
            if i is None:
                break
            wait = t0 + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                late[i] = -wait
            started = time.monotonic()
            raw, headers = signed[i]
            try:
                conn.request("POST", payloads.INBOUND_PATH, body=raw, headers=headers)
                answer = conn.getresponse()
                answer.read()
                statuses[i] = answer.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            durations[i] = (time.monotonic() - started) * 1000
        conn.close()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(SENDER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"elapsed": time.monotonic() - t0, "errors": len(statuses) - statuses.count(204),
            "late_ms": max(late) * 1000, "webhook_p50": percentile(durations, 50),
            "webhook_p99": percentile(durations, 99)}


def watch_backlog(url: str, stop: threading.Event, samples: list[int]) -> None:
    with connect(url) as conn:
        conn.autocommit = True
        while not stop.wait(1.0):
            samples.append(conn.execute(BACKLOG).fetchone()[0])


def counts(url: str, phase: str) -> tuple[int, int, int]:
    """(inbound stored, replies accepted by the provider) of a phase, and the whole backlog."""
    prefix = f"+1{AREAS[phase]}%"
    with connect(url) as conn:
        stored, accepted = conn.execute(
            "SELECT count(*) FILTER (WHERE direction = 'inbound' AND from_number LIKE %(p)s), "
            "count(*) FILTER (WHERE direction = 'outbound' AND source = 'rule' AND to_number LIKE %(p)s "
            "AND provider_id IS NOT NULL) FROM messages",
            {"p": prefix},
        ).fetchone()
        return stored, accepted, conn.execute(BACKLOG).fetchone()[0]


def after_phase(url: str, phase: str) -> dict:
    _, accepted, backlog = counts(url, phase)
    time.sleep(SETTLE)
    stored, accepted_later, backlog_later = counts(url, phase)  # stored: requests in flight done too
    return {"stored": stored, "accepted": accepted, "backlog": backlog, "accepted_later": accepted_later,
            "backlog_later": backlog_later, "worker_rate": (accepted_later - accepted) / SETTLE}


def drain(url: str, phase: str, expected: int | None = None) -> None:
    """Until the queue is empty (and, given `expected`, that many replies accepted), or DRAIN s."""
    deadline = time.monotonic() + DRAIN
    while time.monotonic() < deadline:
        _, accepted, backlog = counts(url, phase)
        if backlog == 0 and (expected is None or accepted >= expected):
            return
        time.sleep(0.25)


def set_aside(url: str) -> int:
    """After at most DRAIN s, replies still queued are marked failed (never sent): the half-rate
    phase then starts with an empty queue. A row a sender thread holds (leased) is left to it."""
    drain(url, "max")
    with connect(url) as conn:
        count = conn.execute(
            "UPDATE messages SET status = 'failed', error_message = 'bench: set aside', date_updated = now() "
            "WHERE direction = 'outbound' AND status = 'queued' AND provider_id IS NULL "
            "AND (lease_until IS NULL OR lease_until < now())"
        ).rowcount
        conn.commit()
    return count


def settle(url: str) -> None:
    """Until the status webhooks of every accepted send have come back (final status), or DRAIN s."""
    deadline = time.monotonic() + DRAIN
    with connect(url) as conn:
        conn.autocommit = True
        while time.monotonic() < deadline:
            pending = conn.execute(
                "SELECT count(*) FROM messages WHERE direction = 'outbound' AND provider_id IS NOT NULL "
                "AND status IN ('queued', 'sending', 'sent')"
            ).fetchone()[0]
            if pending == 0:
                return
            time.sleep(0.25)


def latencies(url: str, phase: str) -> dict:
    with connect(url) as conn:
        rows = conn.execute(LATENCIES, (f"IN-{phase}-%",)).fetchall()
    return {
        "latencies": [float(ms) for ms, _, _, accepted in rows if accepted and ms is not None],
        "worker_latencies": [float(ms) for _, ms, _, accepted in rows if accepted and ms is not None],
        "inbound": len(rows),
        "unanswered": sum(1 for *_, accepted in rows if not accepted),
        "unrecorded": sum(1 for ms, _, _, accepted in rows if accepted and ms is None),
        "retried": sum(1 for _, _, attempts, _ in rows if (attempts or 0) > 1),
    }


def cpu(pids: dict[str, int]) -> dict[str, float]:
    return {**{k: tree_seconds(p) for k, p in pids.items()}, "postgres": postgres_seconds(DATABASE)}


def drop_database(name: str) -> None:
    with connect(database_url("postgres")) as conn:
        conn.autocommit = True
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def keeps_up(phase: dict, rate: float) -> str:
    ok = phase["backlog"] <= max(1, rate) and phase["backlog_later"] == 0
    return "yes" if ok else f"NO ({phase['backlog']} → {phase['backlog_later']} queued)"


def pace(phase: dict) -> str:
    """The worker's pace after the phase; when the queue ran dry within SETTLE s, only a lower bound."""
    return f"{phase['worker_rate']:.0f}" if phase["backlog_later"] else "- (drained)"


def cell(values: list[float], pct: float, unanswered: int) -> str:
    """A percentile of the measured latencies, counting the replies never accepted as endless."""
    total = len(values) + unanswered
    if not total:
        return "-"
    rank = max(1, min(total, round(pct / 100 * total + 0.5)))
    return f"{sorted(values)[rank - 1]:.1f}" if rank <= len(values) else "never"


def table(top: dict, half: dict, busy: float, within: dict | None = None) -> Table:
    t = Table(
        "Auto-reply: 1 keyword rule, every sender new; PostgreSQL, gunicorn 2 x 8, 1 delivery worker, "
        "the sandbox",
        ["phase", "req/s", "inbound stored", "reply latency ms: p50", "p90", "p99", "max",
         "accepted: end of phase", f"+{SETTLE:.0f} s", "worker msg/s", "backlog: end of phase",
         f"+{SETTLE:.0f} s", "keeps up"],
    )
    t.add(f"maximum (wrk, {wrk.CONNECTIONS} connections, {MAX_SECONDS} s)", f"{top['rate']:.0f}",
          top["stored"], "-", "-", "-", "-", top["accepted"], top["accepted_later"],
          pace(top), top["backlog"], top["backlog_later"], keeps_up(top, top["rate"]))
    values, unanswered = half["latencies"], half["unanswered"]
    p50 = cell(values, 50, unanswered)
    verdict = "meets" if p50 != "never" and float(p50) <= TARGET_MS else "MISSES"
    t.add(f"half ({half['target_rate']:.0f}/s paced, {HALF_SECONDS:.0f} s)", f"{half['rate']:.0f}",
          half["stored"], f"{p50} ({verdict} ≤ {TARGET_MS:.0f})", cell(values, 90, unanswered),
          cell(values, 99, unanswered), f"{max(values):.1f}" if values and not unanswered else "never",
          half["accepted"], half["accepted_later"], pace(half), half["backlog"],
          half["backlog_later"], keeps_up(half, half["target_rate"]))
    if within is not None:
        got, missing = within["latencies"], within["unanswered"]
        low50 = cell(got, 50, missing)
        ok = "meets" if low50 != "never" and float(low50) <= TARGET_MS else "MISSES"
        t.add(f"within the worker's pace ({within['target_rate']:.0f}/s paced, {HALF_SECONDS:.0f} s)",
              f"{within['rate']:.0f}", within["stored"], f"{low50} ({ok} ≤ {TARGET_MS:.0f})",
              cell(got, 90, missing), cell(got, 99, missing),
              f"{max(got):.1f}" if got and not missing else "never", within["accepted"],
              within["accepted_later"], pace(within), within["backlog"], within["backlog_later"],
              keeps_up(within, within["target_rate"]))
    worker = half["worker_latencies"]
    t.note("reply latency: the provider's date_created of the reply (from its status webhooks, "
           "receipts.payload, ms) − inbound.date_updated (the web app about to store the message), one "
           f"clock; {half['inbound']} inbound, {len(values)} measured, {unanswered} never accepted within "
           f"{DRAIN:.0f} s of the end (counted as endless), {half['unrecorded']} accepted without a receipt "
           f"(left out), {half['retried']} retried")
    t.note("the worker's own columns (reply.first_attempt_at + send_latency_ms − the same stored time, "
           f"low by the claim's transaction): p50 {cell(worker, 50, unanswered)}, p90 "
           f"{cell(worker, 90, unanswered)}, p99 {cell(worker, 99, unanswered)} ms")
    t.note(f"maximum: {top['requests']} requests, {top['errors']} errors, wrk p99 {top['p99_ms']:.0f} ms; "
           f"its replies still queued {DRAIN:.0f} s after it ({top['set_aside']}) were set aside, never sent")
    t.note(f"half: {half['requests']} requests paced over {SENDER_THREADS} threads, {half['errors']} "
           f"not 204, at most {half['late_ms']:.0f} ms behind schedule; webhook answered in p50 "
           f"{half['webhook_p50']:.1f} / p99 {half['webhook_p99']:.1f} ms; backlog each second: "
           + (", ".join(str(n) for n in half["samples"]) or "-"))
    per = half["cpu_ms"]
    t.note("CPU ms per half-rate message (inbound, reply, status webhooks): "
           + ", ".join(f"{k} {per[k]:.2f}" for k in CPU_PARTS)
           + f"; 2 free cores would take about {2000 / max(0.001, sum(per.values())):.0f} msg/s")
    t.note(f"worker msg/s: replies accepted in the {SETTLE:.0f} s after the phase (its pace while a "
           f"backlog lasts); keeps up: at the end at most one second of traffic queued, {SETTLE:.0f} s "
           f"later none; CPU busy with other work just before the run: {busy:.0%} of {os.cpu_count()} CPUs")
    return t
