"""Every model, imported in one place so Alembic and the app see the whole schema."""

from app.accounts.models import ApiKey, User
from app.campaigns.models import Campaign, CampaignRecipient, CampaignSender
from app.consent.models import ConsentEvent, ConsentKeyword
from app.conversations.models import Contact, Conversation, Message, Receipt
from app.rules.models import Rule, RuleHit
from app.settings import Setting

__all__ = [
    "ApiKey",
    "User",
    "Campaign",
    "CampaignRecipient",
    "CampaignSender",
    "ConsentEvent",
    "ConsentKeyword",
    "Contact",
    "Conversation",
    "Message",
    "Receipt",
    "Rule",
    "RuleHit",
    "Setting",
]
