"""The four operations of the seed spec, and how the sandbox refuses what Telefonie refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.sandbox.conftest import OUR_NUMBER, Api, fresh_number

SEED_SPEC = Path(__file__).resolve().parents[2] / "app" / "sandbox" / "telefonie-sms-openapi.yml"
ABSENT = object()  # a field left out of the request, as opposed to sent as null
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def error_of(response: requests.Response) -> tuple[int, int]:
    return response.status_code, response.json()["error"]["code"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}], ids=["missing", "wrong"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/messages"), ("POST", "/messages"), ("GET", "/messages/TF1"), ("DELETE", "/messages/TF1")],
)
def test_every_operation_needs_the_key(api: Api, method: str, path: str, headers: dict[str, str]) -> None:
    response = requests.request(method, api.base + path, headers=headers, json={}, timeout=5)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == 20003
    assert response.json()["error"]["message"]


def test_send_answers_201_with_a_whole_message(api: Api, number: str) -> None:
    response = api.send(number, "Hello there", media_url=["https://example.com/cat.png"])
    assert response.status_code == 201
    message = response.json()
    assert re.fullmatch(r"TF[0-9a-f]{32}", message["id"])
    assert message["status"] == "queued"
    assert message["direction"] == "outbound"
    assert (message["from"], message["to"], message["body"]) == (OUR_NUMBER, number, "Hello there")
    assert message["media_url"] == ["https://example.com/cat.png"]
    assert (message["num_segments"], message["num_media"]) == (1, 1)
    assert (message["price"], message["price_unit"]) == ("0.0079", "USD")
    assert ISO_UTC.match(message["date_created"]) and ISO_UTC.match(message["date_updated"])
    assert "error_code" not in message and "date_sent" not in message
    assert api.get(f"/messages/{message['id']}").json()["id"] == message["id"]


def test_price_follows_the_segments(api: Api, number: str) -> None:
    message = api.send(number, "x" * 161).json()  # two GSM-7 parts of 153
    assert (message["num_segments"], message["price"]) == (2, "0.0158")
    unicode = api.send(number, "Привет").json()
    assert unicode["num_segments"] == 1


def test_send_accepts_a_form_like_twilio_clients_post(api: Api, number: str) -> None:
    form = {
        "to": number,
        "from": OUR_NUMBER,
        "media_url": ["http://a.example/1.png", "http://a.example/2.png"],
    }
    response = api.post("/messages", data=form)
    assert response.status_code == 201, response.text
    assert response.json()["num_media"] == 2 and response.json()["body"] == ""


def test_get_unknown_is_404(api: Api) -> None:
    assert error_of(api.get("/messages/TF" + "0" * 32)) == (404, 20404)


def test_delete_then_gone(api: Api, number: str) -> None:
    message_id = api.send(number).json()["id"]
    response = api.delete(f"/messages/{message_id}")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/messages/{message_id}").status_code == 404
    assert api.delete(f"/messages/{message_id}").status_code == 404
    assert api.get("/messages", params={"to": number}).json()["total"] == 0


def test_list_filters_pages_and_total(api: Api) -> None:
    alice, bob = fresh_number(), fresh_number()
    sent = [api.send(alice, f"a{i}").json()["id"] for i in range(5)] + [api.send(bob, "b").json()["id"]]
    received = api.post("/simulate/inbound", json={"from": alice, "to": OUR_NUMBER, "body": "hi"}).json()

    everything = api.get("/messages").json()
    assert everything["total"] == 7
    assert [m["id"] for m in everything["messages"]] == [received["id"], *reversed(sent)]  # newest first

    to_alice = api.get("/messages", params={"to": alice, "direction": "outbound"}).json()
    assert to_alice["total"] == 5
    assert {m["to"] for m in to_alice["messages"]} == {alice}
    assert api.get("/messages", params={"from": alice}).json()["total"] == 1
    assert api.get("/messages", params={"direction": "inbound", "status": "received"}).json()["total"] == 1

    pages = [
        api.get("/messages", params={"to": alice, "page": p, "page_size": 2}).json() for p in (1, 2, 3, 4)
    ]
    assert [len(p["messages"]) for p in pages] == [2, 2, 1, 0]
    assert all(p["total"] == 5 for p in pages)
    assert [m["id"] for p in pages for m in p["messages"]] == list(reversed(sent[:5]))
    assert api.get("/messages", params={"page_size": 100}).json()["total"] == 7


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"status": "lost"}, "status"),
        ({"pagesize": 10}, "pagesize"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_list_refuses_bad_parameters(api: Api, params: dict, mentions: str) -> None:
    response = api.get("/messages", params=params)
    assert error_of(response) == (400, 20001)
    assert mentions in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "code", "mentions"),
    [
        ({"to": "+1202555"}, 21211, "'to'"),
        ({"to": "12025550123"}, 21211, "'to'"),
        ({"to": "+1202555012a"}, 21211, "'to'"),
        ({"to": "+19999999999"}, 21211, "'to'"),
        ({"from": "not a number"}, 21212, "'from'"),
        ({"to": ABSENT}, 21604, "'to'"),
        ({"to": None}, 21604, "'to'"),
        ({"from": ""}, 21603, "'from'"),
        ({"body": ABSENT}, 21602, "body"),
        ({"body": None}, 21602, "body"),
        ({"body": ""}, 21602, "body"),
        ({"body": 42}, 21602, "body"),
        ({"body": ABSENT, "media_url": None}, 21620, "media_url"),
        ({"body": ABSENT, "media_url": []}, 21602, "body"),
        ({"body": "x" * 1601}, 21617, "1600"),
        ({"media_url": ["ftp://example.com/a.png"]}, 21620, "media_url"),
        ({"media_url": ["not a url"]}, 21620, "media_url"),
        ({"media_url": {"url": "https://example.com"}}, 21620, "media_url"),
        ({"media_url": "https://example.com/a.png"}, 21620, "media_url"),
        ({"media_url": ["https://example.com/a.png"] * 11}, 21623, "media_url"),
        ({"status_callback": "javascript:alert(1)"}, 21609, "status_callback"),
        ({"status_callback": ""}, 21609, "status_callback"),
        ({"validity_period": "600"}, 20001, "validity_period"),
        ({"validity_period": 0}, 20001, "validity_period"),
    ],
)
def test_send_refuses_invalid_input(api: Api, fields: dict, code: int, mentions: str) -> None:
    payload = {"to": fresh_number(), "from": OUR_NUMBER, "body": "hi", **fields}
    payload = {k: v for k, v in payload.items() if v is not ABSENT}
    response = api.post("/messages", json=payload)
    assert error_of(response) == (400, code)
    assert mentions in response.json()["error"]["message"]
    assert api.get("/messages").json()["total"] == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("to=+1", "text/plain"), ("{not json", "application/json"), ('["a list"]', "application/json")],
)
def test_send_refuses_a_body_that_is_not_a_json_object(api: Api, data: str, content_type: str) -> None:
    response = api.post("/messages", data=data, headers={"Content-Type": content_type})
    assert error_of(response) == (400, 20001)
    assert "JSON" in response.json()["error"]["message"]


def test_unknown_method_is_405_with_allow(api: Api) -> None:
    response = api.request("PUT", "/messages")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.json()["error"]["code"] == 405


def test_serves_the_seed_spec_without_a_key(api: Api) -> None:
    response = requests.get(api.base + "/openapi.yml", timeout=5)
    assert response.status_code == 200
    assert response.content == SEED_SPEC.read_bytes()
