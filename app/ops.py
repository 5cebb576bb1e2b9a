"""/healthz, /readyz and /metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from app import metrics
from app.conversations.models import Message
from app.extensions import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # any failure means not ready
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": exc.__class__.__name__}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.get("/metrics")
def metrics_page():
    try:
        extra = database_metrics()
    except Exception:
        db.session.rollback()
        extra = b"# database metrics unavailable\n"
    body = generate_latest(metrics.registry) + extra
    return Response(body, mimetype="text/plain; version=0.0.4")


def database_metrics() -> bytes:
    by_status = GaugeMetricFamily(
        "sms_messages", "Messages by direction and status", labels=["direction", "status"]
    )
    for direction, status, count in db.session.execute(
        select(Message.direction, Message.status, func.count()).group_by(Message.direction, Message.status)
    ):
        by_status.add_metric([direction, status], count)
    queue = db.session.scalar(
        select(func.count()).where(
            Message.direction == "outbound", Message.status == "queued", Message.provider_id.is_(None)
        )
    )
    depth = GaugeMetricFamily("sms_queue_depth", "Outbound messages waiting for the worker", value=queue or 0)
    attempts_row = db.session.execute(
        select(
            func.coalesce(func.sum(Message.attempts), 0),
            func.count(Message.send_latency_ms),
            func.coalesce(func.sum(Message.send_latency_ms), 0),
        ).where(Message.direction == "outbound")
    ).one()
    attempts = GaugeMetricFamily(
        "sms_send_attempts", "Send attempts made to the provider", value=attempts_row[0]
    )
    latency = GaugeMetricFamily(
        "sms_send_latency_seconds", "Provider send latency of accepted messages", labels=["stat"]
    )
    latency.add_metric(["count"], attempts_row[1])
    latency.add_metric(["sum"], attempts_row[2] / 1000.0)
    db.session.rollback()
    return b"".join(generate_latest(_Once(m)) for m in (by_status, depth, attempts, latency))


class _Once:
    """A registry-like wrapper so generate_latest renders one metric family."""

    def __init__(self, family):
        self.family = family

    def collect(self):
        yield self.family
