"""/healthz, /readyz and /metrics."""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import generate_latest
from sqlalchemy import text

from app import metrics
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
    """Prometheus exposition. In production it needs `Authorization: Bearer $METRICS_TOKEN`, and
    without METRICS_TOKEN set it is not served at all (404): counts of messages and webhooks are
    business data. Elsewhere it is open unless METRICS_TOKEN is set."""
    token = current_app.config.get("METRICS_TOKEN", os.environ.get("METRICS_TOKEN")) or ""
    if not token and current_app.config.get("APP_ENV") == "production":
        return jsonify(
            {"error": {"code": "not_found", "message": "set METRICS_TOKEN to serve /metrics"}}
        ), 404
    if token and not _bearer_matches(token):
        resp = jsonify({"error": {"code": "unauthorized", "message": "send Authorization: Bearer <token>"}})
        resp.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return resp, 401
    try:
        extra = b"".join(generate_latest(_Once(family)) for family in metrics.database_families())
    except Exception:  # the process metrics are still worth serving while the database is away
        db.session.rollback()
        extra = b"# database metrics unavailable\n"
    body = metrics.process_metrics() + extra
    return Response(body, mimetype="text/plain; version=0.0.4")


def _bearer_matches(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class _Once:
    """A registry-like wrapper so generate_latest renders one metric family."""

    def __init__(self, family):
        self.family = family

    def collect(self):
        yield self.family
