"""The Telefonie client against the sandbox over real HTTP: all four operations, typed errors."""

from __future__ import annotations

import socket
import time

import pytest

from app.telefonie.client import Client, NotFound, TelefonieError, parse_retry_after
from tests.conftest import OUR, TELEFONIE_KEY


@pytest.fixture
def client(sandbox):
    return Client(sandbox.base, TELEFONIE_KEY, connect_timeout=1, read_timeout=0.5)


def test_send_get_list_delete(client):
    sent = client.send(
        to="+14155550131",
        from_=OUR,
        body="hello",
        status_callback="http://127.0.0.1:9/cb",
        validity_period=600,
    )
    assert sent["id"] and sent["status"] == "queued" and sent["num_segments"] == 1
    assert client.get(sent["id"])["body"] == "hello"
    for i in range(3):
        client.send(to="+14155550132", from_=OUR, body=f"m{i}")
    page = client.list(to="+14155550132", page=1, page_size=2)
    assert page.total == 3 and len(page.messages) == 2
    assert len(client.list(to="+14155550132", page=2, page_size=2).messages) == 1
    assert client.list(direction="inbound").total == 0
    assert client.list(from_=OUR, direction="outbound").total == 4
    client.delete(sent["id"])
    with pytest.raises(NotFound):
        client.get(sent["id"])


def test_bad_request_is_not_retryable(client):
    with pytest.raises(TelefonieError) as err:
        client.send(to="+12025550103", from_=OUR, body="x")
    assert err.value.status == 400 and str(err.value.code) == "21211"
    assert not err.value.retryable and not err.value.ambiguous


def test_wrong_key_is_not_retryable(sandbox):
    with pytest.raises(TelefonieError) as err:
        Client(sandbox.base, "wrong").list()
    assert err.value.status == 401 and not err.value.retryable


@pytest.mark.parametrize(
    ("mode", "status", "retry_after"), [("error_500", 500, None), ("rate_limit", 429, 1.0)]
)
def test_server_errors_are_retryable(client, sandbox, mode, status, retry_after):
    sandbox.faults(mode)
    with pytest.raises(TelefonieError) as err:
        client.send(to="+14155550133", from_=OUR, body="x")
    assert err.value.status == status and err.value.retryable and not err.value.ambiguous
    assert err.value.retry_after == retry_after


def test_read_timeout_on_send_is_ambiguous(client, sandbox):
    sandbox.faults("timeout")
    started = time.monotonic()
    with pytest.raises(TelefonieError) as err:
        client.send(to="+14155550134", from_=OUR, body="x")
    assert time.monotonic() - started < 1.5
    assert err.value.retryable and err.value.ambiguous
    assert len(sandbox.sent_to("+14155550134")) == 1  # it did go through


def test_refused_connection_is_retryable_and_not_ambiguous():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TelefonieError) as err:
        Client(f"http://127.0.0.1:{port}/v1/sms", "k", connect_timeout=0.5).send(to="+1", from_=OUR, body="x")
    assert err.value.retryable and not err.value.ambiguous


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("0.5", 0.5),
        ("-4", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected
