"""Which client URLs the service may call: http(s) to public addresses only, connected to the
address that was checked.

A `status_callback` is chosen by an API client, so posting to it blindly would let a client make
the service reach its own network (metadata endpoints, the database, the admin on localhost).
The host is resolved once; every address must be public (`ipaddress`: not loopback, private,
link-local, reserved, multicast, unspecified); the request then goes to that address, with the
original host name in `Host` and, for https, in SNI and certificate checks.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class Refused(ValueError):
    """The URL is not one the service will call."""


def public_address(host: str, port: int, *, allow_loopback: bool = False) -> str:
    """The first address `host` resolves to, if every one is public; Refused otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host!r}") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Refused(f"cannot resolve {host!r}")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if allow_loopback and address.is_loopback:
            continue
        if not address.is_global or address.is_multicast or address.is_reserved or address.is_link_local:
            raise Refused(f"{host!r} resolves to a non-public address ({address})")
    return addresses[0].split("%", 1)[0]


class _PinnedAdapter(HTTPAdapter):
    """https to an IP address while checking the certificate against the original host name."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


def pinned_session(url: str, *, allow_loopback: bool = False) -> tuple[requests.Session, str]:
    """A session and the URL to post to, aimed at the checked address of the URL's host."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused("not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise Refused("only http and https URLs are called")
    address = public_address(host, port, allow_loopback=allow_loopback)
    literal = f"[{address}]" if ":" in address else address
    target = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the checked address is the one used
    session.headers["Host"] = host if parts.port is None else f"{host}:{parts.port}"
    if parts.scheme == "https":
        session.mount("https://", _PinnedAdapter(host))
    return session, target
