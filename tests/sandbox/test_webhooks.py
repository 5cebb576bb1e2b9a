"""The webhooks the sandbox posts: status callbacks, the magic recipients, inbound, retries."""

from __future__ import annotations

import time

from tests.sandbox.conftest import API_KEY, OUR_NUMBER, Api, Receiver, serve_sandbox, stop_sandbox, wait_until

PATH = ["queued", "sending", "sent", "delivered"]


def test_status_callbacks_arrive_signed_and_in_order(
    api: Api, receiver: Receiver, number: str, status_url: str
):
    message = api.send(number, status_callback=status_url).json()
    assert wait_until(lambda: receiver.statuses(message["id"]) == PATH), receiver.statuses(message["id"])

    posts = receiver.received(message_id=message["id"])
    assert all(p.verified and p.kind == "status" for p in posts)
    assert all(p.headers["Content-Type"] == "application/json" for p in posts)
    assert len({p.headers["Webhook-Id"] for p in posts}) == 4
    final = posts[-1].payload
    assert {k: final[k] for k in ("id", "direction", "from", "to", "body")} == {
        k: message[k] for k in ("id", "direction", "from", "to", "body")
    }
    assert (final["price"], final["price_unit"], final["num_segments"]) == ("0.0079", "USD", 1)
    assert final["date_sent"] and final["date_updated"] >= final["date_sent"]
    assert "error_code" not in final
    assert api.status(message["id"]) == "delivered"


def test_no_callback_url_still_delivers(api: Api, receiver: Receiver, number: str) -> None:
    message_id = api.send(number).json()["id"]
    assert wait_until(lambda: api.status(message_id) == "delivered")
    assert receiver.received(message_id=message_id) == []


def test_magic_number_ends_undelivered(api: Api, receiver: Receiver, status_url: str) -> None:
    message_id = api.send("+12025550101", status_callback=status_url).json()["id"]
    path = ["queued", "sending", "sent", "undelivered"]
    assert wait_until(lambda: receiver.statuses(message_id) == path), receiver.statuses(message_id)
    final = receiver.accepted(message_id)[-1].payload
    assert (final["error_code"], final["error_message"]) == (30003, "Unreachable destination handset")
    stored = api.get(f"/messages/{message_id}").json()
    assert (stored["status"], stored["error_code"]) == ("undelivered", 30003)


def test_magic_number_ends_failed(api: Api, receiver: Receiver, status_url: str) -> None:
    message_id = api.send("+12025550102", status_callback=status_url).json()["id"]
    assert wait_until(lambda: receiver.statuses(message_id)[-1:] == ["failed"]), receiver.statuses(message_id)
    assert receiver.statuses(message_id) == ["queued", "sending", "failed"]
    final = receiver.accepted(message_id)[-1].payload
    assert (final["error_code"], final["error_message"]) == (30008, "Unknown error")
    assert api.get(f"/messages/{message_id}").json()["error_code"] == 30008


def test_magic_number_is_refused_and_not_recorded(api: Api, status_url: str) -> None:
    response = api.send("+12025550103", status_callback=status_url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 21211
    assert api.get("/messages").json() == {"messages": [], "total": 0}


def test_callbacks_are_retried_until_accepted(api: Api, receiver: Receiver, number: str, status_url: str):
    receiver.fail(number, times=2)
    message_id = api.send(number, status_callback=status_url).json()["id"]
    assert wait_until(lambda: receiver.statuses(message_id) == PATH), receiver.statuses(message_id)
    attempts = receiver.received(message_id=message_id)
    assert [a.answered for a in attempts[:3]] == [500, 500, 204]
    assert {a.payload["status"] for a in attempts[:3]} == {"queued"}
    assert len({a.headers["Webhook-Id"] for a in attempts[:3]}) == 1  # the same webhook, retried
    assert all(a.verified for a in attempts)


def test_deleted_message_stops_moving(receiver: Receiver, number: str, status_url: str) -> None:
    server = serve_sandbox(receiver, STEP_DELAY=0.4)  # slow, so the delete surely comes first
    try:
        api = Api(f"{server.url}/v1/sms", API_KEY)
        message_id = api.send(number, status_callback=status_url).json()["id"]
        assert api.delete(f"/messages/{message_id}").status_code == 204
        time.sleep(0.6)
        assert receiver.statuses(message_id) == ["queued"]
    finally:
        stop_sandbox(server)


def test_simulated_inbound_is_recorded_and_posted_signed(api: Api, receiver: Receiver, number: str) -> None:
    response = api.post("/simulate/inbound", json={"from": number, "to": OUR_NUMBER, "body": "STOP"})
    assert response.status_code == 201
    message = response.json()
    assert (message["direction"], message["status"], message["body"]) == ("inbound", "received", "STOP")
    assert message["id"].startswith("TF") and message["date_sent"]

    posts = wait_until(lambda: receiver.received(kind="inbound", message_id=message["id"]))
    assert len(posts) == 1 and posts[0].verified
    assert posts[0].payload == message
    listed = api.get("/messages", params={"direction": "inbound", "from": number}).json()
    assert listed["messages"] == [message]


def test_simulated_inbound_mms_from_a_form(api: Api, receiver: Receiver, number: str) -> None:
    form = {
        "from": number,
        "to": OUR_NUMBER,
        "media_url": ["https://example.com/a.jpg", "https://example.com/b.jpg"],
    }
    message = api.post("/simulate/inbound", data=form).json()
    assert (message["num_media"], message["body"]) == (2, "")
    posts = wait_until(lambda: receiver.received(kind="inbound", message_id=message["id"]))
    assert posts[0].payload["media_url"] == form["media_url"]


def test_simulated_inbound_is_retried_in_order(api: Api, receiver: Receiver, number: str) -> None:
    receiver.fail(number, times=2)
    first = api.post("/simulate/inbound", json={"from": number, "to": OUR_NUMBER, "body": "STOP"}).json()
    second = api.post("/simulate/inbound", json={"from": number, "to": OUR_NUMBER, "body": "START"}).json()

    def accepted() -> list[str]:
        return [p.payload["id"] for p in receiver.received(kind="inbound") if p.answered == 204]

    assert wait_until(lambda: second["id"] in accepted())
    mine = [i for i in accepted() if i in (first["id"], second["id"])]
    assert mine == [first["id"], second["id"]]


def test_simulated_inbound_validates(api: Api, number: str) -> None:
    response = api.post("/simulate/inbound", json={"from": "12345", "to": OUR_NUMBER, "body": "x"})
    assert response.status_code == 400 and response.json()["error"]["code"] == 21212
    response = api.post("/simulate/inbound", json={"from": number, "to": OUR_NUMBER})
    assert response.status_code == 400 and response.json()["error"]["code"] == 21602
    assert api.get("/messages").json()["total"] == 0
