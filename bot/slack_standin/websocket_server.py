"""A minimal WebSocket server (RFC 6455), standard library only, under the stand-in's Socket Mode.

Server side only, and only what a Socket Mode client needs:

- the opening handshake (section 4.2): a ``GET`` with ``Upgrade: websocket``, ``Connection:
  Upgrade``, a ``Sec-WebSocket-Key`` of 16 base64 bytes and ``Sec-WebSocket-Version: 13`` is
  answered ``101 Switching Protocols`` with ``Sec-WebSocket-Accept``; a request missing one of
  them gets 400 (426 naming version 13 for another version), and the ``accept`` callback may
  refuse the URL (403);
- frames (section 5): text messages, fragmented ones reassembled; a ping is answered by a pong
  with the same payload, a close by a close with the same code; the client's frames must be
  masked, the server's are not (5.1); a broken rule closes the connection with 1002, a binary
  message with 1003 (Socket Mode speaks JSON text), invalid UTF-8 with 1007;
- no TLS (``ws://`` only), no extensions, subprotocols or compression: none is negotiated.

Threaded like ``http_server``: a ``ThreadingTCPServer`` with one daemon thread per connection,
which reads frames and hands each complete text message to ``on_text``; any thread may
``send_text``. (Not named ``websocket.py``: that is a third-party package's import name.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import http
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

# Section 1.3: appended to the client's key before hashing it into Sec-WebSocket-Accept.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 16 * 1024 * 1024  # far above any Socket Mode ack; a bound on what one frame claims
_MAX_HEADER_LINES = 100


class ProtocolError(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to answer with (section 7.4.1)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes
    fin: bool = True
    masked: bool = False


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def _apply_mask(data: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte mask repeated (masking and unmasking are the same operation)."""
    size = len(data)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


def encode_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bytes | None = None
) -> bytes:
    """One frame on the wire. A server sends unmasked frames; pass ``mask`` (4 bytes) to build
    what a client sends."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    masked = 0x80 if mask is not None else 0
    size = len(payload)
    if size < 126:
        head.append(masked | size)
    elif size < 1 << 16:
        head.append(masked | 126)
        head += struct.pack("!H", size)
    else:
        head.append(masked | 127)
        head += struct.pack("!Q", size)
    if mask is not None:
        if len(mask) != 4:
            raise ValueError("a frame mask is 4 bytes")
        head += mask
        payload = _apply_mask(payload, mask)
    return bytes(head) + payload


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size) if size else b""
    if len(data) < size:
        raise EOFError("the connection closed in the middle of a frame")
    return data


def read_frame(stream: BinaryIO) -> Frame:
    """The next frame from a buffered stream, unmasked; EOFError when the connection ends."""
    first, second = _read_exactly(stream, 2)
    if first & 0x70:
        raise ProtocolError(1002, "reserved bits set, but no extension was negotiated")
    opcode, fin, masked = first & 0x0F, bool(first & 0x80), bool(second & 0x80)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _read_exactly(stream, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _read_exactly(stream, 8))
    if opcode >= CLOSE and (size > 125 or not fin):
        raise ProtocolError(1002, "a control frame is never fragmented nor over 125 bytes")
    if size > MAX_MESSAGE:
        raise ProtocolError(1009, f"a frame of {size} bytes is over the {MAX_MESSAGE} limit")
    mask = _read_exactly(stream, 4) if masked else None
    payload = _read_exactly(stream, size)
    if mask is not None:
        payload = _apply_mask(payload, mask)
    return Frame(opcode, payload, fin=fin, masked=masked)


def read_request(stream: BinaryIO) -> tuple[str, str, dict[str, str]]:
    """(method, target, headers with lower-cased names) of an HTTP/1.1 request head."""
    line = stream.readline(8192).decode("latin-1").rstrip("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError(f"not an HTTP request line: {line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        header = stream.readline(8192).decode("latin-1").rstrip("\r\n")
        if not header:
            return parts[0], parts[1], headers
        name, colon, value = header.partition(":")
        if not colon:
            raise ValueError(f"not a header line: {header[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    raise ValueError("too many header lines")


def handshake_problem(method: str, headers: dict[str, str]) -> tuple[int, str] | None:
    """Why a request is not a WebSocket opening handshake (HTTP status, reason), or None."""
    if method != "GET":
        return 400, "a WebSocket handshake is a GET"
    if "websocket" not in headers.get("upgrade", "").lower():
        return 400, "Upgrade: websocket is missing"
    connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    if "upgrade" not in connection:
        return 400, "Connection: Upgrade is missing"
    try:
        key = base64.b64decode(headers.get("sec-websocket-key", ""), validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 16:
        return 400, "Sec-WebSocket-Key must be 16 bytes, base64-encoded"
    if headers.get("sec-websocket-version") != "13":
        return 426, "only Sec-WebSocket-Version 13 is spoken"
    return None


class WebSocket:
    """One open connection, the server's end. ``send_text`` and ``close`` from any thread."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._send_lock = threading.Lock()
        self._close_sent = False

    def send_text(self, text: str) -> None:
        self._send(encode_frame(TEXT, text.encode("utf-8")))

    def pong(self, payload: bytes) -> None:
        """Answer a ping: a pong carries the ping's payload back (section 5.5.3)."""
        self._send(encode_frame(PONG, payload))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame, once; nothing may follow it (section 5.5.1)."""
        with self._send_lock:
            if self._close_sent:
                return
            self._close_sent = True
            with contextlib.suppress(OSError):  # the peer may be gone already
                self._sock.sendall(
                    encode_frame(CLOSE, struct.pack("!H", code) + reason.encode()[:123])
                )

    def shutdown(self) -> None:
        """Cut the TCP connection; the reading thread then ends."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            if self._close_sent:
                raise ConnectionError("the WebSocket is closing: nothing may be sent after a close")
            self._sock.sendall(data)


class WebSocketServer(socketserver.ThreadingTCPServer):
    """Accepts WebSocket connections; ``accept(path, query)`` says which URLs may connect,
    ``on_open`` sees each new connection, ``on_text`` each complete text message."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        accept: Callable[[str, str], bool],
        on_open: Callable[[WebSocket], None],
        on_text: Callable[[WebSocket, str], None],
    ) -> None:
        super().__init__(address, _Handler)
        self.accept = accept
        self.on_open = on_open
        self.on_text = on_text
        self._open: list[WebSocket] = []
        self._open_lock = threading.Lock()

    def open_sockets(self) -> list[WebSocket]:
        """The connections open now, oldest first."""
        with self._open_lock:
            return list(self._open)

    def close_all(self, code: int = 1001, reason: str = "going away") -> None:
        """Send each open connection a close frame, then cut it."""
        for ws in self.open_sockets():
            ws.close(code, reason)
            ws.shutdown()

    def _track(self, ws: WebSocket, is_open: bool) -> None:
        with self._open_lock:
            if is_open:
                self._open.append(ws)
            elif ws in self._open:
                self._open.remove(ws)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("WebSocket from %s ended with an error", client_address, exc_info=True)


class _Handler(socketserver.StreamRequestHandler):
    """One connection: the handshake, then frames until a close or the end of the stream."""

    def handle(self) -> None:
        server = cast(WebSocketServer, self.server)
        try:
            method, target, headers = read_request(cast(BinaryIO, self.rfile))
        except (ValueError, OSError) as exc:
            self._refuse(400, str(exc))
            return
        split = urlsplit(target)
        problem = handshake_problem(method, headers)
        if problem is None and not server.accept(split.path, split.query):
            problem = (403, "this URL does not open a connection (unknown or used ticket)")
        if problem is not None:
            self._refuse(*problem)
            return
        key = headers["sec-websocket-key"]
        self.wfile.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode("ascii")
        )
        ws = WebSocket(self.connection)
        server._track(ws, True)
        try:
            server.on_open(ws)
            self._read_messages(server, ws)
        finally:
            server._track(ws, False)

    def _read_messages(self, server: WebSocketServer, ws: WebSocket) -> None:
        parts: list[bytes] | None = None  # the text message being reassembled
        while True:
            try:
                frame = read_frame(cast(BinaryIO, self.rfile))
                if not frame.masked:
                    raise ProtocolError(1002, "a client's frames must be masked")
                if frame.opcode == CLOSE:
                    code = struct.unpack("!H", frame.payload[:2])[0] if frame.payload else 1000
                    ws.close(code)
                    return
                if frame.opcode == PING:
                    ws.pong(frame.payload)
                    continue
                if frame.opcode == PONG:
                    continue
                parts = _next_part(parts, frame)
                if frame.fin:
                    text = b"".join(parts).decode("utf-8")
                    parts = None
                    self._deliver(server, ws, text)
            except ProtocolError as exc:
                ws.close(exc.code, exc.reason)
                return
            except UnicodeDecodeError:
                ws.close(1007, "a text message must be UTF-8")
                return
            except (EOFError, OSError):
                return  # the client hung up, or stop() cut the connection

    @staticmethod
    def _deliver(server: WebSocketServer, ws: WebSocket, text: str) -> None:
        try:
            server.on_text(ws, text)
        except Exception:
            logger.exception("the stand-in failed on a WebSocket message")

    def _refuse(self, status: int, reason: str) -> None:
        extra = "Sec-WebSocket-Version: 13\r\n" if status == 426 else ""
        body = reason.encode()
        with contextlib.suppress(OSError):
            self.wfile.write(
                f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
                f"{extra}Content-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("ascii")
                + body
            )


def _next_part(parts: list[bytes] | None, frame: Frame) -> list[bytes]:
    """The parts of the message in progress once ``frame`` (a data frame) is added."""
    if frame.opcode == CONTINUATION:
        if parts is None:
            raise ProtocolError(1002, "a continuation frame without a message to continue")
        if sum(map(len, parts)) + len(frame.payload) > MAX_MESSAGE:
            raise ProtocolError(1009, f"a message over {MAX_MESSAGE} bytes")
        return [*parts, frame.payload]
    if frame.opcode == BINARY:
        raise ProtocolError(1003, "Socket Mode speaks JSON text frames, not binary")
    if frame.opcode != TEXT:
        raise ProtocolError(1002, f"unknown opcode {frame.opcode:#x}")
    if parts is not None:
        raise ProtocolError(1002, "a new message before the previous one ended")
    return [frame.payload]
