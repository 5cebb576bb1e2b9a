"""What happens to a newly stored inbound message, inside the webhook's transaction.

Consent keywords first, always; then the rules. Replies are queued rows in the same
transaction, so nothing is lost between storing the message and answering it.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from app.conversations.inbound import StoredInbound
from app.events import log_event

log = logging.getLogger(__name__)


def stands_alone(body: str | None) -> bool:
    """True when neither consent nor the rules can act on this body, whoever sent it and whatever
    their consent: no consent keyword of any kind (STOP, START, HELP and the admin's own), nothing
    that reads like a wish to stop, no rule pattern. Then storing the message is all there is to
    do, and the webhook commits its one statement on its own (app/conversations/inbound.py).
    Any doubt answers False: the message then takes the full path in one transaction."""
    from app.consent import service as consent
    from app.consent.keywords import reads_like_stop_wish
    from app.rules import service as rules

    text = body or ""
    return (
        consent.keyword_set().kind_of(text) is None
        and not reads_like_stop_wish(text)
        and not rules.rule_index().candidates(text)
    )


def after_inbound(message: StoredInbound, *, alone: bool = False) -> None:
    """Consent, then the rules. `alone`: stands_alone() said, before the message was stored, that
    neither can act on it; they are not asked again (a rule saved in between applies from the
    next message, as it would had this one come a moment earlier)."""
    from app.consent import service as consent
    from app.rules import service as rules

    log_event("inbound_stored", message_id=message.id, conversation_id=message.conversation_id)
    if alone:
        return
    outcome = consent.apply(message)
    if outcome.handled:
        return
    try:
        rules.respond(message)
    except SQLAlchemyError:
        raise  # the database is the webhook's business: 503 or 500, and nothing half-stored
    except Exception:  # a rule must never cost us the customer's message (issue 11)
        log.exception("rules failed on message %s; the message is stored without a reply", message.id)
