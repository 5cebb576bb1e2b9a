"""Prometheus metrics: process-local counters plus gauges read from the database at scrape time.

Counters live in the process that counts (web processes count webhooks; the /metrics page of a
web process shows its own). Queue depth, messages by status and send attempts come from the
database, so they are the same whichever process answers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

registry = CollectorRegistry()

webhooks = Counter(
    "sms_webhooks_total", "Webhooks received, by kind and outcome", ["kind", "outcome"], registry=registry
)
webhook_latency = Histogram(
    "sms_webhook_seconds",
    "Webhook handling time",
    ["kind"],
    registry=registry,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
