"""Slack's side of Socket Mode: the app connects out to Slack, and Slack pushes envelopes in.

Slack's protocol (docs.slack.dev/apis/events-api/using-socket-mode) and what the stand-in keeps:

1. The app calls ``apps.connections.open`` with its app-level token (``xapp-…``) in the
   Authorization header and gets ``{"ok": true, "url": "wss://…/link/?ticket=…"}``. The stand-in
   answers ``ws://127.0.0.1:<port>/link/?ticket=…``: plain WebSocket, which slack_sdk's builtin
   client opens without TLS on any port but 443. A bot token gets ``not_allowed_token_type``, any
   other token ``invalid_auth``, no token in the header ``not_authed`` (``dispatch`` checks). Each
   ticket opens one connection; an unknown or used one is refused with 403 at the handshake
   (the stand-in's choice: what Slack answers there is not documented).
2. Once connected, Slack sends ``hello``: ``connection_info.app_id``, ``num_connections`` and
   ``debug_info``.
3. Slack sends envelopes: ``{"envelope_id", "type": "events_api" | "interactive" |
   "slash_commands", "payload", "accepts_response_payload"}``, whose payload is what it would
   POST to a Request URL, as JSON (an ``event_callback``, an interactivity payload, or the slash
   command's form fields).
4. The app acknowledges each with ``{"envelope_id", "payload"?}``, the payload being what an
   HTTP answer's body would carry (a ``response_action``, a command's immediate answer).

Each step is recorded as a call, so tests assert on it like on a Web API call: method
``socket_mode.hello``, ``socket_mode.envelope``, ``socket_mode.ack`` (its ``response`` is
``{"ok": false, "error": "unknown_envelope_id"}`` for an envelope never sent) and
``socket_mode.invalid`` for a message that is not an ack. Left out: ``disconnect`` messages and
refreshes, Slack's retries of unacknowledged events, the 3-second ack deadline, spreading
envelopes over several connections (they go to the newest one). The WebSocket itself (RFC 6455)
is ``websocket_server``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from urllib.parse import parse_qsl

from bot.slack_standin.protocol import Json
from bot.slack_standin.websocket_server import WebSocket, WebSocketServer

logger = logging.getLogger(__name__)

# Whether Slack lets the ack carry a payload, per envelope type (Slack's documented examples).
ENVELOPE_TYPES = {"events_api": False, "interactive": True, "slash_commands": True}
LINK_PATH = "/link/"

# (method, params, response) -> None: how a Socket Mode step becomes a recorded call.
Record = Callable[[str, Json, Json], None]


class SocketMode:
    """Tickets, the WebSocket server (started on the first ``apps.connections.open``), hello,
    envelopes out and acks in."""

    def __init__(self, *, host: str, app_id: str, record: Record) -> None:
        self._host = host
        self._app_id = app_id
        self._record = record
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._sent: set[str] = set()
        self._server: WebSocketServer | None = None

    def open_connection(self) -> str:
        """A fresh WebSocket URL with a single-use ticket: ``apps.connections.open``'s answer."""
        with self._lock:
            if self._server is None:
                self._server = self._start()
            ticket = secrets.token_urlsafe(16)
            self._tickets.add(ticket)
            port = self._server.server_address[1]
        return f"ws://{self._host}:{port}{LINK_PATH}?ticket={ticket}"

    def send(
        self, payload_type: str, payload: Json, *, accepts_response_payload: bool | None = None
    ) -> str:
        """Wrap ``payload`` in an envelope and send it to the newest connection; its id."""
        if payload_type not in ENVELOPE_TYPES:
            raise ValueError(
                f"not a Socket Mode envelope type: {payload_type!r} "
                f"(one of {', '.join(sorted(ENVELOPE_TYPES))})"
            )
        if not isinstance(payload, dict):
            kind = type(payload).__name__
            raise ValueError(f"an envelope's payload is a JSON object, not a {kind}")
        open_now = self._server.open_sockets() if self._server is not None else []
        if not open_now:
            raise RuntimeError(
                "no Socket Mode connection: the app must call apps.connections.open and connect "
                "to its URL first (wait for a socket_mode.hello call)"
            )
        if accepts_response_payload is None:
            accepts_response_payload = ENVELOPE_TYPES[payload_type]
        envelope_id = str(uuid.uuid4())
        envelope: Json = {
            "envelope_id": envelope_id,
            "type": payload_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        with self._lock:
            self._sent.add(envelope_id)
        # Recorded before it is sent, so its ack is always recorded after it.
        self._record("socket_mode.envelope", envelope, {"ok": True})
        open_now[-1].send_text(json.dumps(envelope))
        return envelope_id

    def stop(self) -> None:
        """Close the connections (1001, going away) and stop listening."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_all()

    # ------------------------------------------------------------ the WebSocket server's callbacks

    def _start(self) -> WebSocketServer:
        server = WebSocketServer(
            (self._host, 0), accept=self._accept, on_open=self._opened, on_text=self._received
        )
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"slack-standin-socket-mode-{server.server_address[1]}",
            daemon=True,
        ).start()
        return server

    def _accept(self, path: str, query: str) -> bool:
        ticket = dict(parse_qsl(query)).get("ticket", "")
        with self._lock:
            if path != LINK_PATH or ticket not in self._tickets:
                return False
            self._tickets.discard(ticket)
            return True

    def _opened(self, ws: WebSocket) -> None:
        server = self._server
        hello = {
            "type": "hello",
            "num_connections": len(server.open_sockets()) if server is not None else 1,
            "debug_info": {
                "host": "applink-standin",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self._app_id},
        }
        ws.send_text(json.dumps(hello))
        self._record("socket_mode.hello", hello, {})

    def _received(self, ws: WebSocket, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("envelope_id"), str):
            logger.warning("Socket Mode: a message that is not an ack: %.200s", text)
            invalid = {"ok": False, "error": "not_an_ack"}
            self._record("socket_mode.invalid", {"text": text}, invalid)
            return
        with self._lock:
            known = message["envelope_id"] in self._sent
        response = {"ok": True} if known else {"ok": False, "error": "unknown_envelope_id"}
        self._record("socket_mode.ack", message, response)
