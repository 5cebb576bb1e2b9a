"""The Telefonie sandbox: a small, separate Flask app that plays the provider (CONTRACT section 8).

It serves the seed spec's operations under /v1/sms, moves each sent message through its
statuses with signed webhooks, and can be told to misbehave the ways a real provider does, so
the service can be run and tested end to end without the real Telefonie.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from app.sandbox.callbacks import WebhookSender
from app.sandbox.lifecycle import Lifecycle
from app.sandbox.store import Faults, Message, MessageStore, new_message
from app.sandbox.validation import NewMessage

log = logging.getLogger(__name__)

EXTENSION = "telefonie_sandbox"

DEFAULTS: dict[str, Any] = {
    "STEP_DELAY": 0.3,
    "TIMEOUT_DELAY": 15.0,
    "PRICE_PER_SEGMENT": "0.0079",
    "PRICE_UNIT": "USD",
    "INBOUND_URL": "http://127.0.0.1:5000/webhooks/telefonie/inbound",
    "CALLBACK_WORKERS": 4,
    "CALLBACK_MAX_ATTEMPTS": 30,
    "CALLBACK_BACKOFF": 0.5,
    "CALLBACK_MAX_BACKOFF": 5.0,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}


class Sandbox:
    """The provider's state and machinery: what one app's request and background threads share.

    Each app gets its own, so two apps in one test process never share messages or faults.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.store = MessageStore()
        self.faults = Faults()
        self.sender = WebhookSender(
            settings["WEBHOOK_SECRET"],
            workers=int(settings["CALLBACK_WORKERS"]),
            max_attempts=int(settings["CALLBACK_MAX_ATTEMPTS"]),
            backoff=float(settings["CALLBACK_BACKOFF"]),
            max_backoff=float(settings["CALLBACK_MAX_BACKOFF"]),
        )
        self.lifecycle = Lifecycle(self.store, self.sender, float(settings["STEP_DELAY"]))

    def send(self, new: NewMessage) -> Message:
        """Record an outbound message as queued and set it on its way (status webhooks follow)."""
        message = self.store.add(self._message(new, direction="outbound", status="queued"))
        self.lifecycle.begin(message, new.status_callback, self.faults.take_callback_faults())
        return message

    def receive(self, new: NewMessage) -> Message:
        """Record a message a handset sent to one of our numbers and post it to the inbound URL.

        Webhooks of one sender to one number share a key, so a STOP and the START after it
        reach the service in the order they were sent.
        """
        message = self._message(new, direction="inbound", status="received")
        message["date_sent"] = message["date_created"]
        message = self.store.add(message)
        self.sender.send(self.settings["INBOUND_URL"], message, key=f"{new.from_}>{new.to}")
        return message

    def reset(self) -> None:
        self.store.clear()
        self.faults.clear()
        self.sender.clear()

    def stop(self) -> None:
        """Stop the background threads (tests that start many apps call it on teardown)."""
        self.lifecycle.stop()
        self.sender.stop()

    def _message(self, new: NewMessage, *, direction: str, status: str) -> Message:
        return new_message(
            direction=direction,
            status=status,
            from_number=new.from_,
            to_number=new.to,
            body=new.body,
            media_urls=new.media_urls,
            price_per_segment=str(self.settings["PRICE_PER_SEGMENT"]),
            price_unit=str(self.settings["PRICE_UNIT"]),
        )


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The sandbox app; without a config it reads the environment, as `python -m app.sandbox` does.

    `API_KEY` and `WEBHOOK_SECRET` are required: the service must share them to talk to it.
    """
    settings = {**DEFAULTS, **(config_from_env() if config is None else config)}
    for name in ("API_KEY", "WEBHOOK_SECRET"):
        if not settings.get(name):
            raise ValueError(f"the Telefonie sandbox needs {name}")
    app = Flask(__name__)
    app.config.update(settings)
    app.json.sort_keys = False  # keep the Message's fields in the spec's order
    app.extensions[EXTENSION] = Sandbox(settings)

    from app.sandbox import views

    views.register(app)
    return app


def sandbox() -> Sandbox:
    """The current app's sandbox state (for views and CLI commands)."""
    return current_app.extensions[EXTENSION]


def config_from_env(environ: Mapping[str, str] | None = None, dev_file: Path | None = None) -> dict[str, Any]:
    """Settings from the environment, then the main app's development file, then generated.

    The development file (`instance/settings.env`, written by `make run`) is how the service and
    the sandbox share the API key and webhook secret; without it the sandbox still starts, with
    a fresh key and secret that it logs, so it can be run on its own.
    """
    from app.config import DEV_SETTINGS_FILE, read_env_file

    env = {
        **read_env_file(DEV_SETTINGS_FILE if dev_file is None else dev_file),
        **{k: v for k, v in (os.environ if environ is None else environ).items() if v},
    }
    public_base = env.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{env.get('PORT', '5000')}").rstrip("/")
    settings: dict[str, Any] = {
        "API_KEY": env.get("TELEFONIE_API_KEY"),
        "WEBHOOK_SECRET": env.get("WEBHOOK_SECRET"),
        "INBOUND_URL": env.get("SANDBOX_INBOUND_URL", f"{public_base}/webhooks/telefonie/inbound"),
        "STEP_DELAY": float(env.get("SANDBOX_STEP_DELAY", DEFAULTS["STEP_DELAY"])),
        "TIMEOUT_DELAY": float(env.get("SANDBOX_TIMEOUT_DELAY", DEFAULTS["TIMEOUT_DELAY"])),
        "PRICE_PER_SEGMENT": env.get("SANDBOX_PRICE_PER_SEGMENT", DEFAULTS["PRICE_PER_SEGMENT"]),
    }
    if not settings["API_KEY"]:
        settings["API_KEY"] = secrets.token_urlsafe(24)
        log.warning("TELEFONIE_API_KEY is not set; the sandbox uses %s", settings["API_KEY"])
    if not settings["WEBHOOK_SECRET"]:
        settings["WEBHOOK_SECRET"] = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        log.warning("WEBHOOK_SECRET is not set; the sandbox signs with %s", settings["WEBHOOK_SECRET"])
    return settings
