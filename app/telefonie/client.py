"""The Telefonie API client: one keep-alive session, explicit timeouts, typed errors.

Every error says whether a retry may help (`retryable`) and whether the provider may have
accepted the message anyway (`ambiguous`: the request left but no answer came back), so the
delivery worker can reconcile instead of sending twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

# What went wrong, as a short stable code: the admin counts retries by it, a failed message
# carries it, and the delivery circuit opens on the kinds that mean "the provider is down".
REFUSED = "connection_refused"
CONNECT_TIMEOUT = "connect_timeout"
CONNECTION_LOST = "connection_lost"
READ_TIMEOUT = "read_timeout"
SERVER_ERROR = "provider_5xx"
RATE_LIMITED = "rate_limited"
REJECTED = "rejected"
BAD_ANSWER = "bad_answer"
PROVIDER_DOWN = frozenset({REFUSED, CONNECT_TIMEOUT, CONNECTION_LOST, SERVER_ERROR, RATE_LIMITED})


class TelefonieError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        retry_after: float | None = None,
        kind: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.kind = kind or (REJECTED if status and status < 500 else SERVER_ERROR if status else BAD_ANSWER)

    @property
    def provider_down(self) -> bool:
        """True for the failures that say the provider as a whole is unavailable (open the circuit)."""
        return self.kind in PROVIDER_DOWN

    def describe(self) -> str:
        """One line that names the kind, the HTTP status and the provider's code when there are any."""
        parts = [self.kind]
        if self.status:
            parts.append(f"HTTP {self.status}")
        if self.code not in (None, ""):
            parts.append(f"code {self.code}")
        return f"{' '.join(parts)}: {self.message}"


class NotFound(TelefonieError):
    pass


@dataclass(frozen=True)
class Page:
    messages: list[dict[str, Any]]
    total: int


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Client:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = session or requests.Session()
        self.session.headers.update(
            {"X-API-Key": api_key, "Accept": "application/json", "User-Agent": "sms-conversations/0.1"}
        )

    @classmethod
    def from_config(cls, config: dict) -> Client:
        return cls(
            config["TELEFONIE_BASE_URL"],
            config["TELEFONIE_API_KEY"],
            connect_timeout=config["TELEFONIE_CONNECT_TIMEOUT"],
            read_timeout=config["TELEFONIE_READ_TIMEOUT"],
        )

    def send(
        self,
        *,
        to: str,
        from_: str,
        body: str | None = None,
        media_url: list[str] | None = None,
        status_callback: str | None = None,
        validity_period: int | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"to": to, "from": from_}
        if body:
            payload["body"] = body
        if media_url:
            payload["media_url"] = list(media_url)
        if status_callback:
            payload["status_callback"] = status_callback
        if validity_period is not None:
            payload["validity_period"] = validity_period
        return self._request("POST", "/messages", json=payload, sending=True)

    def list(
        self,
        *,
        direction: str | None = None,
        status: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
    ) -> Page:
        params = {
            "direction": direction,
            "status": status,
            "from": from_,
            "to": to,
            "page": page,
            "page_size": page_size,
        }
        data = self._request("GET", "/messages", params={k: v for k, v in params.items() if v is not None})
        return Page(messages=list(data.get("messages") or []), total=int(data.get("total") or 0))

    def get(self, message_id: str) -> dict[str, Any]:
        return self._request("GET", f"/messages/{requests.utils.quote(message_id, safe='')}")

    def delete(self, message_id: str) -> None:
        self._request("DELETE", f"/messages/{requests.utils.quote(message_id, safe='')}")

    def _request(self, method: str, path: str, *, sending: bool = False, **kw) -> Any:
        where = f"{method} {self.base_url}{path}"
        try:
            resp = self.session.request(method, self.base_url + path, timeout=self.timeout, **kw)
        except requests.ConnectTimeout as exc:
            raise TelefonieError(
                f"no connection within {self.timeout[0]} s ({where})", retryable=True, kind=CONNECT_TIMEOUT
            ) from exc
        except requests.ConnectionError as exc:
            if _refused(exc):  # nothing was sent: safe to send again
                raise TelefonieError(
                    f"the provider refused the connection ({where}): {_root_cause(exc)}",
                    retryable=True,
                    kind=REFUSED,
                ) from exc
            # Reset or closed after the request left: the provider may have read and accepted it.
            raise TelefonieError(
                f"connection lost before an answer ({where}): {_root_cause(exc)}",
                retryable=True,
                ambiguous=sending,
                kind=CONNECTION_LOST,
            ) from exc
        except requests.Timeout as exc:
            raise TelefonieError(
                f"no answer within {self.timeout[1]} s ({where})",
                retryable=True,
                ambiguous=sending,
                kind=READ_TIMEOUT,
            ) from exc
        except requests.RequestException as exc:
            raise TelefonieError(
                f"request failed ({where}): {_root_cause(exc)}",
                retryable=True,
                ambiguous=sending,
                kind=CONNECTION_LOST,
            ) from exc
        return self._answer(resp)

    @staticmethod
    def _answer(resp: requests.Response) -> Any:
        if resp.status_code == 204:
            return None
        if 200 <= resp.status_code < 300:
            try:
                return resp.json()
            except ValueError as exc:
                raise TelefonieError(
                    "provider answered with invalid JSON",
                    status=resp.status_code,
                    retryable=True,
                    ambiguous=resp.request.method == "POST",
                    kind=BAD_ANSWER,
                ) from exc
        code, message = _error_detail(resp)
        kind = NotFound if resp.status_code == 404 else TelefonieError
        retryable = resp.status_code == 429 or resp.status_code >= 500 or resp.status_code == 408
        raise kind(
            message,
            status=resp.status_code,
            code=code,
            retryable=retryable,
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            kind=RATE_LIMITED if resp.status_code == 429 else SERVER_ERROR if retryable else REJECTED,
        )


def _refused(exc: requests.ConnectionError) -> bool:
    text = str(exc)
    return "Connection refused" in text or "NewConnectionError" in text or "Name or service" in text


def _root_cause(exc: BaseException) -> str:
    """The innermost error's own words (`[Errno 111] Connection refused`), not urllib3's wrapper
    text (`HTTPConnectionPool(...): Max retries exceeded ...`), so a saved error reads whole."""
    seen: set[int] = set()
    cause: BaseException = exc
    while id(cause) not in seen:
        seen.add(id(cause))
        nxt = cause.__cause__ or cause.__context__
        if nxt is None and cause.args and isinstance(cause.args[-1], BaseException):
            nxt = cause.args[-1]
        reason = getattr(cause, "reason", None)
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        if nxt is None:
            break
        cause = nxt
    match = re.search(r"\[Errno -?\d+\][^'\")]*", str(cause)) or re.search(
        r"\[Errno -?\d+\][^'\")]*", str(exc)
    )
    if match:
        return match.group(0).strip()
    text = str(cause).split(": ", 1)[-1] if ": " in str(cause) else str(cause)
    return f"{type(cause).__name__}: {text}"[:300]


def _error_detail(resp: requests.Response) -> tuple[int | str | None, str]:
    try:
        data = resp.json()
    except ValueError:
        return None, f"HTTP {resp.status_code}: {resp.text[:200]}"
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return err.get("code"), str(err.get("message") or f"HTTP {resp.status_code}")
    if isinstance(data, dict) and "message" in data:
        return data.get("code"), str(data["message"])
    return None, f"HTTP {resp.status_code}"
