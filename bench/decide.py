"""decide() time per message with 10, 1,000 and 10,000 keyword rules (target: flat, under 50 µs).

Pure and in-process, timeit-style: the best of REPEATS passes of ~20,000 decisions over the same
mix of bodies (90% no match, 10% matching a rule, which renders its reply template). Keyword rules
are first-word (80%) and exact (20%) rules; one in ten is limited to one of our numbers and one in
ten has a schedule, so the scope and schedule checks run too. The index build time is shown as
well: the service rebuilds it from the database every rules.service.CACHE_SECONDS in every process.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from bench.payloads import ORDINARY, OUR
from bench.report import Table, ratio

RULE_COUNTS = (10, 1_000, 10_000)
BODIES = 1_000
REPEATS = 7
TARGET_US = 50.0
SCHEDULE = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00",
            "timezone": "America/New_York", "when": "outside"}


def rule_specs(count: int) -> list:
    from app.rules.engine import RuleSpec

    specs = []
    for i in range(count):
        specs.append(RuleSpec(
            id=i + 1, name=f"rule {i}", priority=100 + i % 50,
            match="exact" if i % 5 == 4 else "first_word",
            patterns=(f"KW{i}",) if i % 3 else (f"KW{i}", f"ALT{i}"),
            number="+12025550100" if i % 10 == 3 else None,
            schedule=SCHEDULE if i % 10 == 7 else None,
            reply="Hi {{ contact.name }}, thanks for texting " + f"KW{i}" + " to {{ brand }}!",
            tags=("keyword",),
        ))
    return specs


def bodies(rules: int, seed: int = 11) -> list[str]:
    """The same ordinary messages for every rule count; one in ten names one of the rules' keywords."""
    rng = random.Random(seed)
    out = []
    for _ in range(BODIES):
        if rng.random() < 0.10:
            n = rng.randrange(rules)
            out.append(f"KW{n}" if n % 5 == 4 else f"kw{n} please, thanks")
        else:
            out.append(rng.choice(ORDINARY))
    return out


def best_us(messages: list, index) -> float:
    """Best of REPEATS passes (each about 20,000 decisions), in µs per message."""
    from app.rules.engine import decide

    loops = max(1, 20_000 // len(messages))
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(loops):
            for message in messages:
                decide(message, index, brand="Acme")
        best = min(best, time.perf_counter() - started)
    return best / (loops * len(messages)) * 1e6


def measure(rules: int) -> dict:
    from app.rules.engine import Inbound, RuleIndex, decide

    specs = rule_specs(rules)
    started = time.perf_counter()
    index = RuleIndex.build(specs)
    build_ms = (time.perf_counter() - started) * 1000
    at = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    messages = [Inbound(body=b, from_number="+12125550001", to_number=OUR, first_in_conversation=False, at=at,
                        contact_name="Ana") for b in bodies(rules)]
    matching = [m for m in messages if decide(m, index, brand="Acme").rule is not None]
    others = [m for m in messages if decide(m, index, brand="Acme").rule is None]
    return {"us": best_us(messages, index), "no_match_us": best_us(others, index),
            "match_us": best_us(matching, index), "matched": len(matching) / len(messages),
            "build_ms": build_ms}


def uncached_reply_us() -> float:
    """A match whose reply template is not in compile_reply's LRU cache (512 entries): it is compiled."""
    from app.rules.templates import compile_reply, render_reply

    context = {"contact": {"name": "Ana", "phone": "+12125550001"}, "brand": "Acme",
               "message": {"body": "kw1", "from": "+12125550001", "to": OUR}}
    compile_reply.cache_clear()
    started = time.perf_counter()
    for i in range(200):
        render_reply("Hi {{ contact.name }}, thanks for texting " + f"KW{i}" + " to {{ brand }}!", context)
    return (time.perf_counter() - started) / 200 * 1e6


def run() -> list[Table]:
    results = {n: measure(n) for n in RULE_COUNTS}
    base = results[RULE_COUNTS[0]]["us"]
    t = Table(f"decide() per message: best of {REPEATS} passes of ~20,000 decisions, {BODIES} bodies (pure)",
              ["keyword rules", "µs/message (mix)", "no match", "match", "matched", "mix vs 10 rules",
               "RuleIndex.build ms"])
    for n, r in results.items():
        t.add(f"{n:,}", f"{r['us']:.1f}", f"{r['no_match_us']:.1f}", f"{r['match_us']:.1f}",
              f"{r['matched']:.0%}", ratio(r["us"] / base), f"{r['build_ms']:.1f}")
    worst = max(r["us"] for r in results.values())
    t.note(f"target: flat and under {TARGET_US:.0f} µs: worst {worst:.1f} µs "
           f"({'meets' if worst <= TARGET_US else 'MISSES'}), 10,000 / 10 rules = "
           f"{results[RULE_COUNTS[-1]]['us'] / base:.2f}")
    t.note("a match renders the rule's reply (sandboxed Jinja, compiled template cached); a match whose "
           f"template is not cached (over 512 distinct replies in use) costs {uncached_reply_us():.0f} µs")
    return [t]
