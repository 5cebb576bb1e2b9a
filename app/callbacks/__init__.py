"""Forwarding each status of a message to the `status_callback` its sender gave, as Telefonie
(and Twilio) would: signed like the provider's webhooks, to public http(s) addresses only."""

from app.callbacks.forward import forward_due

__all__ = ["forward_due"]
