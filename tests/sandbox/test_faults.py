"""The faults a real provider has, on demand: 500, 429, a lost answer, odd callbacks."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.conftest import TIMEOUT_DELAY, Api, Receiver, wait_until

PATH = ["queued", "sending", "sent", "delivered"]


def arm(api: Api, mode: str, count: int = 1) -> None:
    response = api.post("/simulate/faults", json={"mode": mode, "count": count})
    assert response.status_code == 200, response.text


def test_faults_are_listed_and_cleared(api: Api) -> None:
    arm(api, "error_500", 2)
    arm(api, "duplicate_callbacks", 1)
    pending = api.get("/simulate/faults").json()["faults"]
    assert pending == [{"mode": "error_500", "count": 2}, {"mode": "duplicate_callbacks", "count": 1}]
    assert api.delete("/simulate/faults").status_code == 204
    assert api.get("/simulate/faults").json() == {"faults": []}


@pytest.mark.parametrize("payload", [{"mode": "meteor", "count": 1}, {"mode": "error_500", "count": -1}, {}])
def test_unknown_faults_are_refused(api: Api, payload: dict) -> None:
    assert api.post("/simulate/faults", json=payload).status_code == 400


def test_error_500_answers_500_and_records_nothing(api: Api, number: str) -> None:
    arm(api, "error_500", 2)
    for _ in range(2):
        response = api.send(number)
        assert response.status_code == 500
        assert response.json()["error"]["code"] == 20500
    assert api.get("/messages").json()["total"] == 0
    assert api.send(number).status_code == 201  # the count is used up
    assert api.get("/messages").json()["total"] == 1


def test_rate_limit_answers_429_with_retry_after(api: Api, number: str) -> None:
    arm(api, "rate_limit")
    response = api.send(number)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == 20429
    assert api.get("/messages").json()["total"] == 0
    assert api.send(number).status_code == 201


def test_invalid_send_does_not_use_up_a_fault(api: Api, number: str) -> None:
    arm(api, "error_500")
    assert api.send("+12025550103").status_code == 400
    assert api.send(number).status_code == 500


def test_timeout_records_the_message_but_answers_too_late(
    api: Api, receiver: Receiver, number: str, status_url: str
) -> None:
    arm(api, "timeout")
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        api.send(number, status_callback=status_url, timeout=0.5)
    assert time.monotonic() - started < TIMEOUT_DELAY
    listed = api.get("/messages", params={"to": number}).json()
    assert listed["total"] == 1  # how the service finds out that its send went through
    message_id = listed["messages"][0]["id"]
    assert wait_until(lambda: receiver.statuses(message_id) == PATH), receiver.statuses(message_id)
    assert api.status(message_id) == "delivered"


def test_timeout_answer_does_come_eventually(api: Api, number: str) -> None:
    arm(api, "timeout")
    started = time.monotonic()
    response = api.send(number, timeout=TIMEOUT_DELAY + 5)
    assert response.status_code == 201
    assert time.monotonic() - started >= TIMEOUT_DELAY


def test_duplicate_callbacks(api: Api, receiver: Receiver, number: str, status_url: str) -> None:
    arm(api, "duplicate_callbacks")
    twice = api.send(number, status_callback=status_url).json()["id"]
    once = api.send(number, status_callback=status_url).json()["id"]
    doubled = [s for s in PATH for _ in range(2)]
    assert wait_until(lambda: receiver.statuses(twice) == doubled), receiver.statuses(twice)
    assert wait_until(lambda: receiver.statuses(once) == PATH), receiver.statuses(once)
    assert all(p.verified for p in receiver.received(message_id=twice))


def test_out_of_order_callbacks(api: Api, receiver: Receiver, number: str, status_url: str) -> None:
    arm(api, "out_of_order_callbacks")
    reversed_id = api.send(number, status_callback=status_url).json()["id"]
    normal_id = api.send(number, status_callback=status_url).json()["id"]
    assert wait_until(lambda: receiver.statuses(reversed_id) == PATH[::-1]), receiver.statuses(reversed_id)
    assert wait_until(lambda: receiver.statuses(normal_id) == PATH), receiver.statuses(normal_id)
    assert api.status(reversed_id) == "delivered"  # the API itself never goes backwards


def test_reset_clears_messages_and_faults(api: Api, number: str) -> None:
    api.send(number)
    arm(api, "rate_limit", 3)
    assert api.post("/simulate/reset").status_code == 204
    assert api.get("/messages").json()["total"] == 0
    assert api.get("/simulate/faults").json()["faults"] == []
