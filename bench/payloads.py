"""Pre-built, signed webhook requests: distinct provider ids and webhook ids, bodies like real traffic.

Signatures carry the time they were made and the service accepts them for 300 s, so build the
requests of a scenario right before running it.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

from standardwebhooks import Webhook

from bench.loadgen import build_request

OUR = "+12025550199"
INBOUND_PATH = "/webhooks/telefonie/inbound"
STATUS_PATH = "/webhooks/telefonie/status"
STATUS_STEPS = ("sending", "sent", "delivered")
MATCH_SHARE = 0.10

ORDINARY = (
    "Hi, is my order ready for pickup?",
    "Thanks, see you tomorrow at 10",
    "Can I move my appointment to Tuesday afternoon?",
    "What time do you close today?",
    "Ok great",
    "The package arrived but the box was damaged, can someone call me?",
    "Do you have the blue one in a medium?",
    "Running 10 minutes late, sorry!",
    "Is parking available near the store?",
    "Got it 👍",
    "Could you send me the invoice again please",
    "Where can I find my tracking number?",
)
KEYWORD_STEMS = ("PROMO", "DEAL", "HOURS", "PRICE", "MENU", "TRACK", "BOOK", "JOIN", "WIN", "COUPON")


def senders(count: int = 500, first: int = 0) -> list[str]:
    return [f"+1212555{first + i:04d}" for i in range(count)]


def keywords(count: int = 1000) -> list[str]:
    """`count` distinct first-word keywords such as PROMO7 or HOURS42."""
    per_stem = -(-count // len(KEYWORD_STEMS))
    words = [f"{stem}{n}" for n in range(per_stem) for stem in KEYWORD_STEMS]
    return words[:count]


def inbound_bodies(count: int, words: list[str], seed: int = 7) -> list[str]:
    """Ordinary messages, with MATCH_SHARE of them starting with one of `words`."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        if rng.random() < MATCH_SHARE:
            bodies.append(f"{rng.choice(words)} {rng.choice(('please', 'info for me', 'thanks!'))}")
        else:
            bodies.append(rng.choice(ORDINARY))
    return bodies


def signed_headers(raw: bytes, secret: str) -> dict[str, str]:
    event_id = "msg_" + uuid.uuid4().hex
    now = datetime.now(UTC)
    return {"Content-Type": "application/json", "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(event_id, now, raw.decode())}


def inbound_payload(provider_id: str, sender: str, body: str) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"id": provider_id, "account_id": "AC-bench", "direction": "inbound", "status": "received",
            "from": sender, "to": OUR, "body": body, "num_segments": 1, "num_media": 0, "price": None,
            "price_unit": "USD", "date_created": now, "date_updated": now, "date_sent": now}


def status_payload(provider_id: str, recipient: str, status: str) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    payload = {"id": provider_id, "account_id": "AC-bench", "direction": "outbound", "status": status,
               "from": OUR, "to": recipient, "body": "Your order has shipped.", "num_segments": 1,
               "num_media": 0, "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
               "date_created": now, "date_updated": now, "date_sent": None}
    if status in ("sent", "delivered"):
        payload["date_sent"] = now
    if status == "delivered":
        payload["price"] = "-0.00750"
    return payload


def inbound_requests(host: str, port: int, secret: str, tag: str, bodies: list[str],
                     from_numbers: list[str]) -> tuple[list[bytes], list[str]]:
    """Signed inbound webhooks, one per body, senders taken in turn; returns (requests, provider ids)."""
    requests, ids = [], []
    for i, body in enumerate(bodies):
        pid = f"IN-{tag}-{i:06d}"
        raw = json.dumps(inbound_payload(pid, from_numbers[i % len(from_numbers)], body)).encode()
        requests.append(build_request("POST", INBOUND_PATH, host, port, signed_headers(raw, secret), raw))
        ids.append(pid)
    return requests, ids


def status_requests(host: str, port: int, secret: str, messages: list[tuple[str, str]]
                    ) -> tuple[list[bytes], list[tuple[str, str]]]:
    """sending, then sent, then delivered for every (provider id, recipient): phases in order, as a
    provider reports them seconds apart. Returns (requests, (provider id, status) per request)."""
    requests, keys = [], []
    for status in STATUS_STEPS:
        for pid, recipient in messages:
            raw = json.dumps(status_payload(pid, recipient, status)).encode()
            requests.append(build_request("POST", STATUS_PATH, host, port, signed_headers(raw, secret), raw))
            keys.append((pid, status))
    return requests, keys


def baseline_requests(host: str, port: int, path: str, secret: str, count: int) -> list[bytes]:
    """The inbound requests, byte for byte in size, sent to a baseline endpoint (which ignores the
    signature), so the baseline reads and parses as much HTTP as the webhook does."""
    numbers = senders()
    out = []
    for i, body in enumerate(inbound_bodies(count, keywords())):
        raw = json.dumps(inbound_payload(f"IN-base-{i:06d}", numbers[i % len(numbers)], body)).encode()
        out.append(build_request("POST", path, host, port, signed_headers(raw, secret), raw))
    return out
