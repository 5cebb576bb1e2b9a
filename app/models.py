"""Every model, imported in one place so Alembic and the app see the whole schema."""

from app.accounts.models import ApiKey, User
from app.admin.models import Note, SavedReply, ThreadEvent
from app.callbacks.models import CallbackForward
from app.campaigns.models import Campaign, CampaignRecipient, CampaignSender
from app.consent.models import ConsentEvent, ConsentKeyword
from app.conversations.models import Contact, Conversation, Message, Receipt
from app.conversations.tags import Tag
from app.delivery.models import Circuit, RetryCount, StatusCheck
from app.metrics import MetricDelta, MetricTotal
from app.rules.models import Rule, RuleHit
from app.settings import Setting

__all__ = [
    "ApiKey",
    "CallbackForward",
    "MetricDelta",
    "MetricTotal",
    "User",
    "Campaign",
    "CampaignRecipient",
    "CampaignSender",
    "ConsentEvent",
    "ConsentKeyword",
    "Contact",
    "Conversation",
    "Message",
    "Note",
    "Circuit",
    "RetryCount",
    "StatusCheck",
    "Receipt",
    "Rule",
    "RuleHit",
    "SavedReply",
    "Setting",
    "Tag",
    "ThreadEvent",
]
