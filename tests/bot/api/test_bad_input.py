"""Bad input of every shape the hostile probe found: a 4xx naming what is wrong, never a 5xx,
nothing stored, and the keep-alive connection still carries the next request. Served by
uvicorn on a real socket, as `hitl serve` serves it."""

from __future__ import annotations

import hmac
import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from bot.api.app import SLACK_MAX_BODY_BYTES
from bot.slack_standin.clicks import sign
from storage.tables import Item, Outcome, Review
from tests.bot.slack.live_app import API_TOKEN, SIGNING_SECRET, LiveApp, live_app, over_http
from tests.factories import items_for

QUEUES = {"fraud": {"review_below": 0.9}}
AUTH = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 100_000 + "]" * 100_000


def items_body(**item: Any) -> str:
    return json.dumps({"items": [{"id": "t-1", "features": {"mean_radius": 1.0}, **item}]})


def signed(body: str | bytes, content_type: str = FORM) -> dict[str, str]:
    if isinstance(body, str):
        return {**sign(body, signing_secret=SIGNING_SECRET), "Content-Type": content_type}
    ts = str(int(time.time()))  # Slack's v0 scheme over raw bytes
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, "sha256")
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": content_type,
    }


def payload(data: Any) -> str:
    return "payload=" + quote(data if isinstance(data, str) else json.dumps(data))


def click(**fields: Any) -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": "U0ALICE"}, "team": {"id": "T1"}, **fields}


# (name, method, path, headers, body, status, words the answer must name)
CASES: list[tuple[str, str, str, dict[str, str], str | bytes, int, str]] = [
    ("deep-json", "POST", "/v1/queues/fraud/items", AUTH, DEEP, 422, "nested too deeply"),
    (
        "int-too-large-for-a-float",
        "POST",
        "/v1/queues/fraud/items",
        AUTH,
        '{"items": [{"id": "t-1", "features": {"mean_radius": 1' + "0" * 400 + "}}]}",
        422,
        "too large for a 64-bit float",
    ),
    (
        "float-near-1e308",
        "POST",
        "/v1/queues/fraud/items",
        AUTH,
        items_body(features={"mean_radius": 1.7e308}),
        422,
        "out of range",
    ),
    ("nul-in-id", "POST", "/v1/queues/fraud/items", AUTH, items_body(id="a\x00b"), 422, "NUL"),
    ("nul-in-item-path", "GET", "/v1/queues/fraud/items/a%00b", AUTH, "", 404, "no item"),
    (
        "nul-in-outcome",
        "POST",
        "/v1/queues/fraud/outcomes",
        AUTH,
        json.dumps({"outcomes": [{"id": "t\x00", "label": "fraud"}]}),
        422,
        "NUL",
    ),
    (
        "non-numeric-slack-timestamp",
        "POST",
        "/slack/events",
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00", "Content-Type": FORM},
        "a=b",
        401,
        "X-Slack-Request-Timestamp",
    ),
    (
        "unsigned-payload",
        "POST",
        "/slack/events",
        {"Content-Type": FORM},
        "payload=" + "x" * 1000,
        401,
        "X-Slack-Request-Timestamp is missing",
    ),
    (
        "bad-signature",
        "POST",
        "/slack/events",
        {**signed("something else"), "Content-Type": FORM},
        payload(click(actions=[])),
        401,
        "X-Slack-Signature",
    ),
    (
        "no-actions",
        "POST",
        "/slack/events",
        signed(payload(click(actions=[]))),
        payload(click(actions=[])),
        400,
        "actions",
    ),
    (
        "payload-not-json",
        "POST",
        "/slack/events",
        signed(payload("{not json")),
        payload("{not json"),
        400,
        "not valid JSON",
    ),
    (
        "payload-a-list",
        "POST",
        "/slack/events",
        signed(payload("[1,2]")),
        payload("[1,2]"),
        400,
        "not a JSON object",
    ),
    (
        "payload-deep",
        "POST",
        "/slack/events",
        signed(payload(DEEP)),
        payload(DEEP),
        400,
        "nested too deeply",
    ),
    (
        "user-not-an-object",
        "POST",
        "/slack/events",
        signed(payload(click(user=7, actions=[{"action_id": "hitl_vote:confirm"}]))),
        payload(click(user=7, actions=[{"action_id": "hitl_vote:confirm"}])),
        400,
        "user must be an object",
    ),
    (
        "body-not-utf8",
        "POST",
        "/slack/events",
        signed(b"payload=\xff\xfe", FORM),
        b"payload=\xff\xfe",
        400,
        "UTF-8",
    ),
]


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[LiveApp, str, int]]:
    with live_app(database_url, queues=QUEUES) as app, over_http(app.web) as (host, port):
        yield app, host, port


def stored(app: LiveApp) -> tuple[int, int, int]:
    with app.ctx.sessions.begin() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (Item, Review, Outcome)
        )


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_4xx_naming_it_and_the_connection_carries_the_next_request(served, case):
    app, host, port = served
    _, method, path, headers, body, status, words = case
    app.post_items("fraud", items_for(1, prefix="before"))
    before = stored(app)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        answer = response.read().decode()
        assert response.status == status, answer
        assert words in answer
        sock = connection.sock
        assert sock is not None and not response.will_close
        connection.request("GET", "/healthz")  # the next request, on the same connection
        after = connection.getresponse()
        after.read()
        assert after.status == 200
        assert connection.sock is sock
    finally:
        connection.close()
    assert stored(app) == before


def _send_headers(host: str, port: int, headers: list[str]) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=30)
    sock.sendall(
        ("\r\n".join(["POST /slack/events HTTP/1.1", "Host: x", *headers]) + "\r\n\r\n").encode()
    )
    return sock


def _status(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "connection closed without an answer"
        head += chunk
    return int(head.split(b" ", 2)[1])


def test_a_body_declared_over_1_mb_is_refused_before_it_is_sent(served):
    _, host, port = served
    sock = _send_headers(
        host, port, [f"Content-Length: {200 * 1024 * 1024}", f"Content-Type: {FORM}"]
    )
    try:
        assert _status(sock) == 413  # answered with not one byte of the body sent
    finally:
        sock.close()


def test_a_chunked_body_over_1_mb_is_refused_while_it_is_read(served):
    _, host, port = served
    sock = _send_headers(host, port, ["Transfer-Encoding: chunked", f"Content-Type: {FORM}"])
    try:
        chunk = b"x" * 65536
        for _ in range(SLACK_MAX_BODY_BYTES // len(chunk) + 2):  # just past 1 MB, never ended
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        assert _status(sock) == 413
    finally:
        sock.close()


def test_a_body_of_1_mb_is_still_read_and_checked(served):
    app, host, port = served
    pad = "x" * (SLACK_MAX_BODY_BYTES - len("a=&b="))
    body = f"a={pad}&b="
    assert len(body) == SLACK_MAX_BODY_BYTES
    response = app.http.post("/slack/events", content=body, headers=signed(body))
    assert response.status_code not in (413, 500)
