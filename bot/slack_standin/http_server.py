"""The stand-in's HTTP side: requests in, answers out, and the server that carries them.

Standard library only (``ThreadingHTTPServer`` in a daemon thread) so it starts in
milliseconds. It speaks HTTP/1.1 keep-alive with ``Content-Length`` on every answer, so a client
posting hundreds of messages is not slowed by reconnects. What to answer is decided elsewhere:
the server is given an ``answer`` function (``SlackStandin._answer``).

(Not named ``http.py``: a module that shares a standard library package's name is a trap for
anything that puts this folder on ``sys.path``.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.slack_standin.protocol import Json, SlackError

logger = logging.getLogger(__name__)

# Fields slack_sdk sends as JSON strings inside form posts; parsed so tests see Python objects.
_JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")
_JSON_TYPE = "application/json; charset=utf-8"
_TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = _JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait before answering (cut short by stop)


def json_answer(status: int, body: Json, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, json.dumps(body, separators=(",", ":")).encode(), _JSON_TYPE, headers)


def text_answer(status: int, text: str) -> Answer:
    return Answer(status, text.encode(), _TEXT_TYPE)


def multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(field name, filename, bytes) for each part of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = cast(EmailMessage, BytesParser(policy=policy.HTTP).parsebytes(head + body))
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts.append((str(name or ""), part.get_filename(), data))
    return parts


def parse_params(request: Request) -> tuple[Json, bool]:
    """Merged request parameters, and whether they came as a JSON body."""
    params: Json = dict(parse_qsl(request.query, keep_blank_values=True))
    content_type = request.header("Content-Type")
    is_json = "application/json" in content_type.lower()
    if request.body and is_json:
        try:
            decoded = json.loads(request.body)
        except ValueError as exc:
            raise SlackError("invalid_json") from exc
        if not isinstance(decoded, dict):
            raise SlackError("invalid_json")
        params.update(decoded)
    elif request.body and "multipart/form-data" in content_type.lower():
        for name, filename, data in multipart(content_type, request.body):
            params[name] = data if filename else data.decode("utf-8", "replace")
    elif request.body:
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str):
            # Undecodable JSON stays a str: the method then answers Slack's format error.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params, is_json


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive; every answer carries Content-Length; no stderr chatter."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 30  # seconds an idle keep-alive connection is kept open

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = cast(StandinHTTPServer, self.server)
        split = urlsplit(self.path)
        request = Request(
            unquote(split.path), split.query, dict(self.headers.items()), self._read_body()
        )
        answer = server.answer(request)
        if answer.delay > 0:
            server.stopping.wait(answer.delay)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The path only: a query string could carry a token.
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("standin http: " + format, *args)


class StandinHTTPServer(ThreadingHTTPServer):
    """Tracks live connections so ``stop`` can cut keep-alive sockets promptly."""

    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops SYNs under concurrent clients

    def __init__(self, address: tuple[str, int], answer: Callable[[Request], Answer]) -> None:
        super().__init__(address, _Handler)
        self.answer = answer
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected here (fail_next delay); keep it quiet.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)
