"""The stand-in's Socket Mode: RFC 6455 framing and handshake checked byte by byte with a
hand-written client, ``apps.connections.open`` through slack_sdk's WebClient, and slack_sdk's own
``SocketModeClient`` (the one Bolt's ``SocketModeHandler`` runs) connecting and acknowledging."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import queue
import socket
import struct
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack_standin import SlackStandin
from bot.slack_standin.websocket_server import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    Frame,
    ProtocolError,
    accept_key,
    encode_frame,
    read_frame,
)

MASK = b"\x01\x02\x03\x04"


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as running:
        yield running


def connection_url(standin: SlackStandin) -> str:
    client = WebClient(base_url=standin.api_url)
    return str(client.apps_connections_open(app_token=standin.app_token)["url"])


class Peer:
    """A hand-written WebSocket client: sends the bytes RFC 6455 prescribes, reads the raw frames
    the stand-in sends back. ``headers`` replace the handshake's (None removes one)."""

    def __init__(self, url: str, headers: dict[str, str | None] | None = None) -> None:
        split = urlsplit(url)
        self.key = base64.b64encode(os.urandom(16)).decode()
        sent: dict[str, str | None] = {
            "Host": f"{split.hostname}:{split.port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": self.key,
            "Sec-WebSocket-Version": "13",
            **(headers or {}),
        }
        lines = [f"GET {split.path}?{split.query} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in sent.items() if value is not None]
        self.sock = socket.create_connection((split.hostname, split.port), timeout=5)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.stream = self.sock.makefile("rb")
        self.status = int(self.stream.readline().split()[1])
        self.headers: dict[str, str] = {}
        while line := self.stream.readline().decode().strip():
            name, _, value = line.partition(":")
            self.headers[name.lower()] = value.strip()

    def send(self, opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = True):
        self.sock.sendall(encode_frame(opcode, payload, fin=fin, mask=MASK if masked else None))

    def receive(self) -> Frame:
        return read_frame(self.stream)

    def receive_json(self) -> dict[str, Any]:
        frame = self.receive()
        assert frame.opcode == TEXT and frame.fin and not frame.masked
        return dict(json.loads(frame.payload))

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


@pytest.fixture
def peer(standin: SlackStandin) -> Iterator[Peer]:
    """A connected hand-written client that has read its hello."""
    connected = Peer(connection_url(standin))
    assert connected.status == 101
    assert connected.receive_json()["type"] == "hello"
    yield connected
    connected.close()


def close_code(frame: Frame) -> int:
    assert frame.opcode == CLOSE
    return int(struct.unpack("!H", frame.payload[:2])[0])


# ----------------------------------------------------------------------------- framing


def test_accept_key_is_the_one_rfc_6455_gives() -> None:
    # RFC 6455 section 1.3's worked example.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(("size", "header"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
@pytest.mark.parametrize("mask", [None, MASK])
def test_frames_round_trip_with_each_length_encoding(
    size: int, header: int, mask: bytes | None
) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = encode_frame(TEXT, payload, mask=mask)
    assert len(data) == header + (4 if mask else 0) + size
    if mask and size:
        assert data[-size:] != payload  # masked on the wire
    assert read_frame(io.BytesIO(data)) == Frame(TEXT, payload, fin=True, masked=mask is not None)


def test_read_frame_refuses_what_rfc_6455_forbids() -> None:
    long_ping = encode_frame(PING, b"x" * 126)
    fragmented_close = encode_frame(CLOSE, b"", fin=False)
    reserved_bit = bytes([0x80 | 0x40 | TEXT, 0])
    for data in (long_ping, fragmented_close, reserved_bit):
        with pytest.raises(ProtocolError) as info:
            read_frame(io.BytesIO(data))
        assert info.value.code == 1002
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(encode_frame(TEXT, b"cut short")[:-3]))


# ------------------------------------------------------------------------ apps.connections.open


def test_apps_connections_open_answers_a_plain_websocket_url(standin: SlackStandin) -> None:
    url = connection_url(standin)
    split = urlsplit(url)
    assert (split.scheme, split.hostname, split.path) == ("ws", "127.0.0.1", "/link/")
    assert split.query.startswith("ticket=") and split.port != urlsplit(standin.base_url).port
    [call] = standin.calls_to("apps.connections.open")
    assert call.headers["Authorization"] == f"Bearer {standin.app_token}"
    assert connection_url(standin) != url  # a fresh ticket each time


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-standin", "not_allowed_token_type"), ("xapp-1-A0OTHER-1-x", "invalid_auth")],
)
def test_apps_connections_open_wants_the_app_token(
    standin: SlackStandin, token: str, error: str
) -> None:
    with pytest.raises(SlackApiError) as info:
        WebClient(base_url=standin.api_url).apps_connections_open(app_token=token)
    assert info.value.response.data == {"ok": False, "error": error}


def test_apps_connections_open_takes_the_token_from_the_header_only(
    standin: SlackStandin,
) -> None:
    # Slack: "send the token in the Authorization header, not as a parameter".
    with pytest.raises(SlackApiError) as info:
        WebClient(base_url=standin.api_url).api_call(
            "apps.connections.open", data={"token": standin.app_token}
        )
    assert info.value.response.data == {"ok": False, "error": "not_authed"}


def test_an_app_token_does_not_post_messages(standin: SlackStandin) -> None:
    with pytest.raises(SlackApiError) as info:
        WebClient(token=standin.app_token, base_url=standin.api_url).chat_postMessage(
            channel="C0REVIEW", text="hi"
        )
    assert info.value.response["error"] == "not_allowed_token_type"


# ----------------------------------------------------------------------------- handshake


def test_handshake_then_hello(standin: SlackStandin) -> None:
    client = Peer(connection_url(standin))
    try:
        assert client.status == 101
        assert client.headers["upgrade"].lower() == "websocket"
        assert client.headers["connection"].lower() == "upgrade"
        digest = hashlib.sha1((client.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
        assert client.headers["sec-websocket-accept"] == base64.b64encode(digest.digest()).decode()
        hello = client.receive_json()
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": standin.app_id}
        assert hello["debug_info"]["approximate_connection_time"] > 0
        [recorded] = standin.wait_for_calls("socket_mode.hello", 1)
        assert recorded.params == hello
    finally:
        client.close()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec-WebSocket-Key": None}, 400),
        ({"Sec-WebSocket-Key": "dG9vIHNob3J0"}, 400),
        ({"Upgrade": None}, 400),
        ({"Connection": "keep-alive"}, 400),
        ({"Sec-WebSocket-Version": "8"}, 426),
    ],
)
def test_a_request_that_is_not_a_websocket_handshake_is_refused(
    standin: SlackStandin, headers: dict[str, str | None], status: int
) -> None:
    client = Peer(connection_url(standin), headers)
    try:
        assert client.status == status
        if status == 426:
            assert client.headers["sec-websocket-version"] == "13"
    finally:
        client.close()
    assert standin.calls_to("socket_mode.hello") == []


def test_a_ticket_opens_one_connection_and_only_its_own(standin: SlackStandin) -> None:
    url = connection_url(standin)
    split = urlsplit(url)
    forged = Peer(f"ws://{split.netloc}/link/?ticket=forged")
    first, again = Peer(url), Peer(url)
    try:
        assert (forged.status, first.status, again.status) == (403, 101, 403)
    finally:
        for client in (forged, first, again):
            client.close()


# ----------------------------------------------------------------------------- messages


def test_ping_is_answered_with_the_same_payload(peer: Peer) -> None:
    peer.send(PING, b"are you there")
    assert peer.receive() == Frame(PONG, b"are you there")


def test_envelope_out_and_ack_in(standin: SlackStandin, peer: Peer) -> None:
    payload = {"type": "block_actions", "actions": [{"action_id": "x"}]}
    envelope_id = standin.socket_send("interactive", payload)
    envelope = peer.receive_json()
    assert envelope == {
        "envelope_id": envelope_id,
        "type": "interactive",
        "payload": payload,
        "accepts_response_payload": True,
    }
    ack = {"envelope_id": envelope_id, "payload": {"response_action": "clear"}}
    peer.send(TEXT, json.dumps(ack).encode())
    assert standin.wait_for_ack(envelope_id) == ack
    [recorded] = standin.calls_to("socket_mode.envelope")
    assert recorded.params == envelope


def test_a_fragmented_ack_is_reassembled(standin: SlackStandin, peer: Peer) -> None:
    envelope_id = standin.socket_send("events_api", {"type": "event_callback", "event": {}})
    assert peer.receive_json()["accepts_response_payload"] is False
    text = json.dumps({"envelope_id": envelope_id}).encode()
    peer.send(TEXT, text[:5], fin=False)
    peer.send(PING, b"between fragments")  # control frames may come in between
    peer.send(CONTINUATION, text[5:])
    assert peer.receive() == Frame(PONG, b"between fragments")
    assert standin.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}


def test_acks_of_unknown_envelopes_and_other_messages_are_recorded_as_such(
    standin: SlackStandin, peer: Peer
) -> None:
    peer.send(TEXT, b'{"envelope_id": "never-sent"}')
    assert standin.wait_for_ack("never-sent") == {"envelope_id": "never-sent"}
    [ack] = standin.calls_to("socket_mode.ack")
    assert ack.response == {"ok": False, "error": "unknown_envelope_id"}
    peer.send(TEXT, b"not json")
    [invalid] = standin.wait_for_calls("socket_mode.invalid", 1)
    assert invalid.params == {"text": "not json"}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode_frame(TEXT, b"{}"), 1002),  # unmasked
        (encode_frame(BINARY, b"\x00", mask=MASK), 1003),
        (encode_frame(TEXT, b"\xff\xfe", mask=MASK), 1007),
        (encode_frame(CONTINUATION, b"x", mask=MASK), 1002),
    ],
)
def test_a_broken_frame_closes_the_connection_with_its_code(
    peer: Peer, frame: bytes, code: int
) -> None:
    peer.sock.sendall(frame)
    assert close_code(peer.receive()) == code
    assert peer.stream.read() == b""  # then the server hangs up


def test_a_close_is_answered_with_a_close(peer: Peer) -> None:
    peer.send(CLOSE, struct.pack("!H", 1000))
    assert close_code(peer.receive()) == 1000
    assert peer.stream.read() == b""


def test_stop_closes_open_connections_going_away(standin: SlackStandin, peer: Peer) -> None:
    standin.stop()
    assert close_code(peer.receive()) == 1001


def test_socket_send_says_what_is_wrong(standin: SlackStandin) -> None:
    with pytest.raises(RuntimeError, match="no Socket Mode connection"):
        standin.socket_send("interactive", {"type": "block_actions"})
    with pytest.raises(ValueError, match="not a Socket Mode envelope type: 'event'"):
        standin.socket_send("event", {})
    with pytest.raises(ValueError, match="payload is a JSON object"):
        standin.socket_send("events_api", "text")  # type: ignore[arg-type]
    with pytest.raises(TimeoutError, match="ack of envelope nope"):
        standin.wait_for_ack("nope", timeout=0.01)


# ----------------------------------------------------------------------------- slack_sdk's client


def test_slack_sdks_socket_mode_client_connects_and_acknowledges(standin: SlackStandin) -> None:
    received: queue.Queue[SocketModeRequest] = queue.Queue()
    closed: queue.Queue[int] = queue.Queue()

    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.put(request)
        response = SocketModeResponse(request.envelope_id, payload={"text": "seen"})
        client.send_socket_mode_response(response)

    client = SocketModeClient(
        app_token=standin.app_token,
        web_client=WebClient(base_url=standin.api_url),
        auto_reconnect_enabled=False,
        on_close_listeners=[lambda code, reason: closed.put(code)],
    )
    client.socket_mode_request_listeners.append(listener)
    try:
        client.connect()
        standin.wait_for_calls("socket_mode.hello", 1)
        # A payload over the client's 1024-byte receive buffer arrives whole.
        command = {"command": "/hitl", "text": "x" * 5000, "user_id": "U0ALICE"}
        envelope_id = standin.socket_send("slash_commands", command)
        assert standin.wait_for_ack(envelope_id) == {
            "envelope_id": envelope_id,
            "payload": {"text": "seen"},
        }
        request = received.get(timeout=5)
        assert (request.type, request.payload) == ("slash_commands", command)
        assert request.accepts_response_payload is True
        # Stopping the stand-in tells the client: it sees a close, 1001 going away.
        standin.stop()
        assert closed.get(timeout=5) == 1001
    finally:
        client.close()
