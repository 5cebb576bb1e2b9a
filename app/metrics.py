"""Prometheus metrics: process counters (aggregated across gunicorn workers) plus database
counters kept up to date by triggers.

Process counters (webhooks received, their latency) use prometheus_client's multiprocess mode
when PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it), so whichever worker answers a
scrape shows the sum over all workers. Messages by status, queue depth, send attempts and send
latency were three aggregates over the whole messages table per scrape (120 ms each at 500k
rows); they now come from `metric_totals` plus the few `metric_deltas` rows written by triggers
on `messages` since the last scrape (migration 0005). Each scrape folds those deltas into the
totals, so the work per scrape is proportional to the changes since the last one.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import BigInteger, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

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


class MetricDelta(db.Model):
    """A change to a counter, appended by a trigger; appends never wait on each other."""

    __tablename__ = "metric_deltas"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)


class MetricTotal(db.Model):
    """A counter's value up to the last compaction."""

    __tablename__ = "metric_totals"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


COMPACT_BATCH = 50_000
_COMPACT_PG = text(
    """
    WITH moved AS (
        DELETE FROM metric_deltas WHERE id IN (
            SELECT id FROM metric_deltas ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED
        ) RETURNING name, label, amount
    )
    INSERT INTO metric_totals (name, label, value)
    SELECT name, label, SUM(amount) FROM moved GROUP BY name, label ORDER BY name, label
    ON CONFLICT (name, label) DO UPDATE SET value = metric_totals.value + EXCLUDED.value
    """
)
_COMPACT_SQLITE = (
    text(
        """
        INSERT INTO metric_totals (name, label, value)
        SELECT name, label, SUM(amount) FROM metric_deltas WHERE id <= :last GROUP BY name, label
        ON CONFLICT (name, label) DO UPDATE SET value = metric_totals.value + excluded.value
        """
    ),
    text("DELETE FROM metric_deltas WHERE id <= :last"),
)


def compact() -> None:
    """Fold the deltas into the totals (one statement on PostgreSQL; SQLite has one writer)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_COMPACT_PG, {"batch": COMPACT_BATCH})
    else:
        last = db.session.scalar(select(func.max(MetricDelta.id)))
        if last is not None:
            for statement in _COMPACT_SQLITE:
                db.session.execute(statement, {"last": last})
    db.session.commit()


def counters() -> dict[tuple[str, str], int]:
    """Every database counter: totals plus the deltas not yet folded in."""
    totals = select(MetricTotal.name, MetricTotal.label, MetricTotal.value.label("amount"))
    pending = select(MetricDelta.name, MetricDelta.label, MetricDelta.amount)
    both = totals.union_all(pending).subquery()
    rows = db.session.execute(
        select(both.c.name, both.c.label, func.sum(both.c.amount)).group_by(both.c.name, both.c.label)
    )
    return {(name, label): int(value or 0) for name, label, value in rows}


def database_families() -> list[GaugeMetricFamily]:
    compact()
    values = counters()
    db.session.rollback()
    by_status = GaugeMetricFamily(
        "sms_messages", "Messages by direction and status", labels=["direction", "status"]
    )
    for (name, label), value in sorted(values.items()):
        if name == "messages" and ":" in label and value:
            by_status.add_metric(label.split(":", 1), value)
    depth = GaugeMetricFamily(
        "sms_queue_depth",
        "Outbound messages waiting for the worker",
        value=values.get(("queue_depth", ""), 0),
    )
    attempts = GaugeMetricFamily(
        "sms_send_attempts", "Send attempts made to the provider", value=values.get(("send_attempts", ""), 0)
    )
    latency = GaugeMetricFamily(
        "sms_send_latency_seconds", "Provider send latency of accepted messages", labels=["stat"]
    )
    latency.add_metric(["count"], values.get(("send_latency_count", ""), 0))
    latency.add_metric(["sum"], values.get(("send_latency_ms_sum", ""), 0) / 1000.0)
    return [by_status, depth, attempts, latency]


def process_metrics() -> bytes:
    """This process's counters, or every worker's summed when in multiprocess mode."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(registry)
    from prometheus_client import multiprocess

    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined, path=directory)
    return generate_latest(combined)
