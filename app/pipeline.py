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


def after_inbound(message: StoredInbound) -> None:
    from app.consent import service as consent
    from app.rules import service as rules

    log_event("inbound_stored", message_id=message.id, conversation_id=message.conversation_id)
    outcome = consent.apply(message)
    if outcome.handled:
        return
    try:
        rules.respond(message)
    except SQLAlchemyError:
        raise  # the database is the webhook's business: 503 or 500, and nothing half-stored
    except Exception:  # a rule must never cost us the customer's message (issue 11)
        log.exception("rules failed on message %s; the message is stored without a reply", message.id)
