"""Blueprint /webhooks/telefonie: verify, parse, store once, acknowledge.

Order (dj-stripe, RapidPro courier): size and content type, then the signature before anything
is parsed or written, then validation, then one transaction, then 204.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from standardwebhooks import Webhook
from werkzeug.exceptions import RequestEntityTooLarge

from app import metrics
from app.conversations.inbound import record_inbound
from app.conversations.service import record_status
from app.errors import error_response
from app.extensions import db
from app.pipeline import after_inbound, stands_alone
from app.telefonie.schema import PayloadError, check_values, load_json, parse_inbound, parse_status

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/telefonie")

MAX_BODY = 64 * 1024
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


class Rejected(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.response = error_response(status, code, message, headers)


@bp.post("/inbound")
def inbound() -> Response:
    return _handle("inbound", lambda data: _store_inbound(parse_inbound(data)))


@bp.post("/status")
def status() -> Response:
    return _handle("status", lambda data: record_status(parse_status(data)))


def _store_inbound(msg) -> None:
    # Most messages are ones neither consent nor a rule acts on: decided before storing, so that
    # such a message is stored by one self-committing statement (no BEGIN and COMMIT round trips)
    alone = stands_alone(msg.body)
    message = record_inbound(msg, alone=alone)
    if message is not None:
        after_inbound(message, alone=alone)


def _handle(kind: str, store: Callable[[dict], object]) -> Response:
    started = time.perf_counter()
    try:
        data = _verified_payload()
        _store_once_or_retry(store, data)
        outcome, resp = "stored", Response(status=204)
    except PayloadError as exc:
        db.session.rollback()
        outcome, resp = "invalid", error_response(400, "invalid_payload", str(exc))
    except Rejected as exc:
        outcome, resp = f"rejected_{exc.response.status_code}", exc.response
    metrics.webhooks.labels(kind, outcome).inc()
    metrics.webhook_latency.labels(kind).observe(time.perf_counter() - started)
    return resp


def _store_once_or_retry(store: Callable[[dict], object], data: dict) -> None:
    """One transaction; tried once more when it failed on a connection the database had closed
    (a restart, a terminated backend): the pool has dropped that connection, and storing is
    idempotent on the provider id, so a retry after a commit that did land stores nothing twice.
    Storage still unavailable: 503 with Retry-After, so the provider retries; never a 500."""
    for attempt in (1, 2):
        try:
            store(data)
            if db.session.registry.has():  # none made: the store's one statement committed by itself
                db.session.commit()
            return
        except PayloadError:
            raise
        except UnicodeEncodeError as exc:  # a lone surrogate from a JSON escape (\ud800): not text
            db.session.rollback()
            raise PayloadError("the payload holds a lone surrogate, which is not valid Unicode text") from exc
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            db.session.rollback()
            if attempt == 1 and getattr(exc, "connection_invalidated", False):
                continue
            current_app.logger.warning("webhook storage unavailable: %s", exc.__class__.__name__)
            raise Rejected(
                503, "storage_unavailable", "storage is unavailable; retry later", {"Retry-After": "5"}
            ) from exc
        except DBAPIError:
            db.session.rollback()
            raise


def _verified_payload() -> dict:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Rejected(413, "payload_too_large", f"the body is over {MAX_BODY // 1024} KiB")
    mimetype = request.mimetype
    if mimetype not in (JSON_TYPE, FORM_TYPE):
        raise Rejected(415, "unsupported_media_type", f"send {JSON_TYPE} or {FORM_TYPE}")
    request.max_content_length = MAX_BODY
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise Rejected(413, "payload_too_large", f"the body is over {MAX_BODY // 1024} KiB") from exc
    _verify_signature(raw)
    return _decode(raw, mimetype)


def _verify_signature(raw: bytes) -> None:
    headers = {
        k: request.headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    if not all(headers.values()):
        raise Rejected(
            401, "missing_signature", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    try:
        _verifier(current_app.config["WEBHOOK_SECRET"]).verify(raw, headers, json_parse=False)
    except Exception as exc:  # the library raises several types for malformed headers
        raise Rejected(401, "invalid_signature", "the webhook signature is missing, wrong or stale") from exc


@cache
def _verifier(secret: str) -> Webhook:
    return Webhook(secret)


def _decode(raw: bytes, mimetype: str) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("the body is not valid UTF-8") from exc
    data = load_json(text) if mimetype == JSON_TYPE else _form_fields(text)
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object")
    check_values(data)
    return data


def _form_fields(text: str) -> dict:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=200)
    except ValueError as exc:
        raise PayloadError("the form body is malformed") from exc
    data: dict = {}
    for key, value in pairs:
        if key == "media_url":
            data.setdefault("media_url", []).append(value)
        elif key in data:
            raise PayloadError(f"'{key}' is given more than once")
        else:
            data[key] = value
    return data
