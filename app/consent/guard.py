"""The one guard every send passes: an opted-out recipient gets nothing."""

from __future__ import annotations

from app.conversations.models import Contact

OPTED_OUT_CODE = 21610


class OptedOut(Exception):
    code = OPTED_OUT_CODE

    def __init__(self, phone: str) -> None:
        super().__init__(f"{phone} has opted out (replied STOP); nothing can be sent to this number")
        self.phone = phone


def ensure_can_send(contact: Contact) -> None:
    if contact.opted_out:
        raise OptedOut(contact.phone)
