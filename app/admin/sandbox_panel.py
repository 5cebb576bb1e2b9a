"""Development only: "text us" from the inbox, through the sandbox's /simulate/inbound.

The sandbox records the message and posts it, signed, to our inbound webhook, exactly as the
provider would; so what the agent sees next is the real path, rules and consent included.
"""

from __future__ import annotations

import requests
from flask import abort, current_app, flash, redirect, request, url_for

from app.admin import bp
from app.telefonie.numbers import InvalidNumber, normalize_e164

TIMEOUT = 5
DEV_ENVS = ("development", "testing")


@bp.post("/sandbox/inbound")
def sandbox_inbound():
    if current_app.config.get("APP_ENV") not in DEV_ENVS:
        abort(404)
    back = redirect(url_for("admin.inbox"))
    try:
        frm = normalize_e164(request.form.get("from", ""), "from")
        to = normalize_e164(request.form.get("to", ""), "to")
    except InvalidNumber as exc:
        flash(f"Sandbox: {exc}", "error")
        return back
    body = request.form.get("body", "")
    if not body.strip():
        flash("Sandbox: write a message first.", "error")
        return back
    url = current_app.config["TELEFONIE_BASE_URL"].rstrip("/") + "/simulate/inbound"
    try:
        response = requests.post(
            url,
            json={"from": frm, "to": to, "body": body},
            timeout=TIMEOUT,
            headers={"X-API-Key": current_app.config["TELEFONIE_API_KEY"]},
        )
    except requests.RequestException as exc:
        flash(
            f"Sandbox unreachable at {url}: {exc.__class__.__name__}. Is it running (make run starts it)?",
            "error",
        )
        return back
    if response.status_code >= 400:
        flash(f"Sandbox refused the message ({response.status_code}): {error_text(response)}", "error")
        return back
    flash(f"Sandbox: {frm} texted {to}. It appears here in a moment.", "info")
    return back


def error_text(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]
