"""The admin's guards: sign-in required, security headers, the sign-in throttle, CSRF failures.

The throttle is an in-process dictionary (no table): each web process counts failed sign-ins per
email and client IP on its own, so with N processes an attacker gets at most N x 5 tries per
15 minutes. That slows guessing without a database write per attempt; a shared limit would need a
shared store (Redis or a table).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from flask import Response, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.admin import bp

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' http: https: data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
OPEN_ENDPOINTS = ("admin.login", "admin.static")


@bp.before_request
def require_login() -> Response | None:
    if request.endpoint in OPEN_ENDPOINTS or current_user.is_authenticated:
        return None
    if wants_json():
        return jsonify({"error": {"code": "unauthorized", "message": "sign in first"}}), 401
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("admin.login", next=safe_next(target)))


def wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def safe_next(target: str | None) -> str | None:
    """Only a path inside the admin: never another host (`//evil`, `/\\evil`) or scheme."""
    if not target:
        return None
    target = target.rstrip("?")
    if not target.startswith("/admin") or "//" in target or "\\" in target:
        return None
    return target


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError):
    return render_template(
        "admin/error.html",
        title="Form refused",
        message="This form was not sent from this page, or it expired. "
        "Go back, reload the page and try again.",
        detail=exc.description,
    ), 400


class SignInThrottle:
    """Failed sign-ins per (email, IP) in a sliding window; in-process, see the module docstring."""

    def __init__(self, limit: int = 5, window: float = 15 * 60, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, email: str, ip: str) -> int:
        """Seconds until another try is allowed; 0 when it is allowed now."""
        now = time.monotonic()
        with self._lock:
            stamps = self._recent(self._key(email, ip), now)
            if stamps is None or len(stamps) < self.limit:
                return 0
            return max(1, int(stamps[0] + self.window - now) + 1)

    def failed(self, email: str, ip: str) -> None:
        now = time.monotonic()
        with self._lock:
            key = self._key(email, ip)
            stamps = self._recent(key, now)
            if stamps is None:
                if len(self._failures) >= self.max_keys:
                    self._evict(now)
                stamps = self._failures[key] = deque(maxlen=self.limit)
            stamps.append(now)

    def succeeded(self, email: str, ip: str) -> None:
        with self._lock:
            self._failures.pop(self._key(email, ip), None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()

    @staticmethod
    def _key(email: str, ip: str) -> tuple[str, str]:
        return ((email or "").strip().lower()[:254], ip or "")

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        stamps = self._failures.get(key)
        if stamps is None:
            return None
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
            return None
        return stamps

    def _evict(self, now: float) -> None:
        """Drop expired keys; if the table is still full, the oldest half (bounded memory)."""
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self.max_keys:
            by_age = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in by_age[: len(by_age) // 2]:
                del self._failures[key]


throttle = SignInThrottle()
