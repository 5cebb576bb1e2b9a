"""Domain events as one log line each: `log_event("inbound_stored", message_id=7, conversation_id=3)`.

Why a helper: an operator (or a log search) wants one grep-able line per thing that happened, with
the ids to follow it, in the same shape from the web process and the worker. In production
(LOG_FORMAT=json) the line is one JSON object with `event` and the fields as keys; in development
it reads `event=inbound_stored message_id=7 conversation_id=3`.

Message text is personal data: fields named in BODY_FIELDS are logged only when APP_ENV is
development (where seeing the text helps); everywhere else they are dropped before formatting.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import current_app, has_app_context

log = logging.getLogger("app.events")
BODY_FIELDS = frozenset({"body", "text", "message_body", "reply"})


def log_event(name: str, **fields: Any) -> None:
    """Log one domain event at INFO; never raises (logging must not break a transaction)."""
    try:
        if not log.isEnabledFor(logging.INFO):
            return
        if not _bodies_allowed():
            fields = {k: v for k, v in fields.items() if k not in BODY_FIELDS}
        line = " ".join([f"event={name}", *(f"{k}={_text(v)}" for k, v in fields.items())])
        log.info(line, extra={"event": name, "event_fields": fields})
    except Exception:  # noqa: BLE001  (a log line is never worth a failed request)
        logging.getLogger("app").debug("event %s not logged", name, exc_info=True)


def _bodies_allowed() -> bool:
    return has_app_context() and current_app.config.get("APP_ENV") == "development"


def _text(value: Any) -> str:
    """Plain tokens as they are; anything with spaces, quotes or control characters JSON-quoted,
    so one event is always one line and `k=v` pairs split unambiguously."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text and all(ch.isprintable() and not ch.isspace() and ch not in "\"'=\\" for ch in text):
        return text
    return json.dumps(text, ensure_ascii=False)
