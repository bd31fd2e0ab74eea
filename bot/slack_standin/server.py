"""A Slack Web API stand-in: a real HTTP server on 127.0.0.1 that answers like Slack.

No machine that runs the tests can reach slack.com, and a mocked ``WebClient`` would only prove
that the bot calls its own mock. This server sits at the protocol boundary instead: the bot's
real ``slack_sdk`` client talks HTTP to it (``WebClient(base_url=standin.api_url)`` or
``SLACK_API_URL``), gets Slack's response shapes and error codes back, and every call is
recorded for assertions. ``fail_next`` makes it rate-limit, fail or hang on demand, so retry and
timeout paths are tested against the same client code that runs in production.

It is standard library only (``ThreadingHTTPServer`` in a daemon thread) so it starts in
milliseconds, and it speaks HTTP/1.1 keep-alive with ``Content-Length`` on every answer so a
client posting hundreds of messages is not slowed by reconnects.

Deliberate leniencies, all documented where they happen: any well-formed channel id is
accepted without ``add_channel``; a user id used as a channel stands for the DM with that user
(``U123`` -> ``D123``); well-formed trigger ids that the stand-in did not mint are accepted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import itertools
import json
import logging
import mimetypes
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.slack_standin.limits import LimitError, message_error, view_error

logger = logging.getLogger(__name__)

Json = dict[str, Any]

# Fields slack_sdk sends as JSON strings inside form posts; parsed so tests see Python objects.
_JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_TRIGGER_TTL = 3.0  # seconds Slack honours a trigger_id
_HISTORY_LIMIT, _HISTORY_MAX = 100, 999
_HTTP_ERRORS = {429: "ratelimited", 503: "service_unavailable"}
_JSON_TYPE = "application/json; charset=utf-8"
_TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class RecordedCall:
    """One request the stand-in answered, in the shape a test asserts on.

    ``method`` is the Web API method, or ``"upload"`` / ``"response_url"`` for those sinks.
    ``params`` merges query string, form fields and JSON body, with JSON-string fields such as
    ``blocks`` already decoded. ``response`` is the JSON answered; for HTTP errors and non-JSON
    answers it also carries ``"status"``.
    """

    method: str
    params: Json
    headers: dict[str, str]
    at: float
    response: Json
    path: str = ""


class SlackError(Exception):
    """An ``{"ok": false, "error": ...}`` answer, raised from inside a method handler."""

    def __init__(self, error: str, messages: tuple[str, ...] = ()) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages

    @classmethod
    def from_limit(cls, limit: LimitError) -> SlackError:
        return cls(limit.error, limit.messages)

    def body(self) -> Json:
        body: Json = {"ok": False, "error": self.error}
        if self.error == "invalid_blocks":
            body["errors"] = [m.removeprefix("[ERROR] ") for m in self.messages]
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    delay: float
    error: str | None
    remaining: int


@dataclass(frozen=True)
class _Request:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = _JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


def _json_answer(status: int, body: Json, headers: tuple[tuple[str, str], ...] = ()) -> _Answer:
    return _Answer(status, json.dumps(body, separators=(",", ":")).encode(), _JSON_TYPE, headers)


def _text_answer(status: int, text: str) -> _Answer:
    return _Answer(status, text.encode(), _TEXT_TYPE)


def _truthy(value: object) -> bool:
    return value is True or value == 1 or str(value).lower() in {"1", "true"}


def _ts_key(ts: object) -> int:
    """Microseconds since the epoch for a Slack ``ts``; ValueError when it is not one."""
    try:
        return int(Decimal(str(ts)) * 1_000_000)
    except InvalidOperation as exc:
        raise ValueError(ts) from exc


def _format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _tz_info(tz: str) -> tuple[int, str]:
    try:
        now = datetime.now(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return 0, tz
    offset = now.utcoffset()
    return int(offset.total_seconds()) if offset else 0, now.tzname() or tz


def _multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
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


def _parse_params(request: _Request) -> tuple[Json, bool]:
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
        for name, filename, data in _multipart(content_type, request.body):
            params[name] = data if filename else data.decode("utf-8", "replace")
    elif request.body:
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str):
            # Undecodable JSON stays a str: the method then answers Slack's format error.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params, is_json


def _require(params: Json, key: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise SlackError("invalid_arguments", (f"[ERROR] missing required field: {key}",))
    return str(value)


class SlackStandin:
    """A Slack Web API you can start in a test; see the module docstring for why."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_token: str = "xoxb-standin",
        bot_user_id: str = "UBOT",
        team_id: str = "T0STANDIN",
    ) -> None:
        self.host = host
        self.port = port
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = "B0STANDIN"
        self.app_id = "A0STANDIN"
        self.calls: list[RecordedCall] = []
        self.uploads: dict[str, bytes] = {}
        # One re-entrant lock guards all state; Condition lets wait_for_calls sleep on it.
        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._last_ts = 0
        self._users: dict[str, Json] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, str] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._messages: dict[str, dict[str, Json]] = {}
        self._files: dict[str, Json] = {}
        self._views: dict[str, Json] = {}
        self._home_views: dict[str, str] = {}
        self._triggers: dict[str, float | None] = {}
        self._methods: dict[str, Callable[[Json], Json]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        self.add_user(bot_user_id, name="review-bot", real_name="Review Bot", is_bot=True)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> SlackStandin:
        """Bind and serve in a daemon thread; returns self so ``s = SlackStandin().start()``."""
        if self._server is not None:
            raise RuntimeError("SlackStandin is already started")
        server = _Server((self.host, self.port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() may wait for the loop
            name=f"slack-standin-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open keep-alive connections and wake delayed answers."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SlackStandin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SlackStandin is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The ``SLACK_API_URL`` / ``WebClient(base_url=...)`` value, with a trailing slash."""
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "default") -> str:
        """A response_url sink; POSTs to it are recorded as method ``"response_url"``."""
        return f"{self.base_url}/response_url/{key}"

    # ----------------------------------------------------------------- directory

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        is_bot: bool = False,
        tz: str = "UTC",
    ) -> None:
        """Make ``users.info`` know a user (``reset`` keeps users)."""
        name = name or user_id.lower()
        real_name = real_name or name
        offset, label = _tz_info(tz)
        profile: Json = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name,
            "display_name_normalized": name,
            "team": self.team_id,
        }
        if user_id == self.bot_user_id:
            profile["bot_id"] = self.bot_id
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "tz_label": label,
            "tz_offset": offset,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "profile": profile,
        }
        with self._cond:
            self._users[user_id] = user

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        """Make ``usergroups.users.list`` answer for a user group (``S...`` id)."""
        with self._cond:
            self._usergroups[usergroup_id] = list(user_ids)

    def add_channel(self, channel_id: str, name: str | None = None) -> None:
        """Name a channel, so it can be addressed as ``#name``; any ``C/G/D...`` id works anyway."""
        with self._cond:
            self._channels[channel_id] = name or channel_id.lower()

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list[Json] | None = None,
        metadata: Json | None = None,
    ) -> str:
        """Seed a message as if ``user`` had written it (for code that reads history); its ts."""
        with self._cond:
            channel_id = self._channel(channel)
            params = {"text": text, "blocks": blocks, "metadata": metadata, "thread_ts": thread_ts}
            return str(self._store_message(channel_id, params, user=user)["ts"])

    def trigger_id(self) -> str:
        """A fresh trigger_id; ``views.open`` refuses it once used or after three seconds."""
        with self._cond:
            trigger = f"{next(self._ids)}.{int(time.time())}.{next(self._ids):012x}"
            self._triggers[trigger] = time.monotonic()
            return trigger

    # ----------------------------------------------------------------- failures

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail.

        ``status`` 429 answers ``ratelimited`` with a ``Retry-After`` header (``retry_after``,
        default 1). Other non-200 statuses answer that HTTP status. ``status=200`` with
        ``error`` answers ``{"ok": false, "error": error}``. ``delay`` sleeps before answering,
        to make clients time out; with ``status=200`` and no ``error`` the call is then carried
        out normally, like a slow Slack that did post the message the client gave up on.
        """
        failure = _Failure(status, retry_after, delay, error, times)
        with self._cond:
            self._failures.setdefault(method, []).append(failure)

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure

    # ----------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._cond:
            return [call for call in self.calls if call.method == method]

    def wait_for_calls(self, method: str, count: int, timeout: float = 10.0) -> list[RecordedCall]:
        """Block until ``count`` calls to ``method`` were recorded; the calls so far."""
        with self._cond:
            done = self._cond.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
            calls = self.calls_to(method)
        if not done:
            raise TimeoutError(
                f"waited {timeout:g}s for {count} call(s) to {method}, saw {len(calls)}"
            )
        return calls

    def messages(self, channel: str) -> list[Json]:
        """Messages in a channel as they are now (after updates), oldest first, replies included."""
        with self._cond:
            channel_id = self._resolve_channel(channel) or channel
            return copy.deepcopy(self._sorted(channel_id))

    def message(self, channel: str, ts: str) -> Json:
        with self._cond:
            channel_id = self._resolve_channel(channel) or channel
            found = self._messages.get(channel_id, {}).get(ts)
            if found is None:
                raise KeyError(f"no message {ts} in {channel}")
            return copy.deepcopy(found)

    def reset(self) -> None:
        """Forget calls, messages, uploads, views and failures; keep users, groups, channels."""
        with self._cond:
            self.calls.clear()
            self.uploads.clear()
            for store in (self._failures, self._messages, self._files, self._views):
                store.clear()
            self._home_views.clear()
            self._triggers.clear()

    # ----------------------------------------------------------------- request handling

    def _answer(self, request: _Request) -> _Answer:
        """Route one HTTP request; called by the handler thread, state guarded here."""
        at = time.monotonic()
        route, _, rest = request.path.strip("/").partition("/")
        if route == "api":
            method = rest
        elif route in ("upload", "response_url") and rest:
            method = route
        else:
            return _text_answer(404, "Not Found")
        with self._cond:
            try:
                params, is_json = _parse_params(request)
            except SlackError as exc:
                params, is_json = {}, True
                answer, recorded = _json_answer(200, exc.body()), exc.body()
            else:
                failure = self._take_failure(method)
                if failure is not None and (failure.status != 200 or failure.error is not None):
                    answer, recorded = self._failure_answer(failure)
                else:
                    answer, recorded = self._serve(method, rest, request, params, is_json)
                if failure is not None:
                    answer = replace(answer, delay=failure.delay)
            self.calls.append(
                RecordedCall(method, params, dict(request.headers), at, recorded, request.path)
            )
            self._cond.notify_all()
        logger.info("%s -> %s", method, recorded.get("error") or recorded.get("status") or "ok")
        return answer

    @staticmethod
    def _failure_answer(failure: _Failure) -> tuple[_Answer, Json]:
        if failure.status == 200:
            body: Json = {"ok": False, "error": failure.error}
            return _json_answer(200, body), body
        default = _HTTP_ERRORS.get(failure.status, "internal_error")
        body = {"ok": False, "error": failure.error or default}
        headers: tuple[tuple[str, str], ...] = ()
        if failure.status == 429 or failure.retry_after is not None:
            retry_after = failure.retry_after if failure.retry_after is not None else 1
            headers = (("Retry-After", str(retry_after)),)
        return _json_answer(failure.status, body, headers), {"status": failure.status, **body}

    def _serve(
        self, method: str, rest: str, request: _Request, params: Json, is_json: bool
    ) -> tuple[_Answer, Json]:
        if method == "upload":
            return self._upload(rest, request, params)
        if method == "response_url":
            return self._response_url_post(params)
        try:
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method")
            self._check_token(request, params, is_json)
            body = handler(params)
        except SlackError as exc:
            body = exc.body()
        return _json_answer(200, body), body

    def _check_token(self, request: _Request, params: Json, is_json: bool) -> None:
        """Slack takes a Bearer header, or a ``token`` form/query field (never in a JSON body)."""
        header = request.header("Authorization")
        if header.lower().startswith("bearer "):
            token: object = header[7:].strip()
        else:
            source = dict(parse_qsl(request.query)) if is_json else params
            token = source.get("token")
        if not token:
            raise SlackError("not_authed")
        if token != self.bot_token:
            raise SlackError("invalid_auth")

    def _upload(self, file_id: str, request: _Request, params: Json) -> tuple[_Answer, Json]:
        """The upload URL from files.getUploadURLExternal: raw bytes or multipart."""
        issued = self._files.get(file_id)
        if issued is None:
            return _text_answer(404, "Not Found"), {"status": 404, "text": "Not Found"}
        data = request.body
        if "multipart/form-data" in request.header("Content-Type").lower():
            parts = _multipart(request.header("Content-Type"), request.body)
            chosen = next((p for p in parts if p[1]), None) or next(
                (p for p in parts if p[0] in ("file", "filename")), None
            )
            data = chosen[2] if chosen else b""
        params.update({"file_id": file_id, "size": len(data)})
        self.uploads[file_id] = data
        issued.update(uploaded=True, size=len(data))
        text = f"OK - {len(data)}"
        return _text_answer(200, text), {"status": 200, "text": text}

    def _response_url_post(self, params: Json) -> tuple[_Answer, Json]:
        """A response_url answers like an incoming webhook: ``ok``, or 400 and an error code."""
        payload = params.get("payload")
        if isinstance(payload, str):
            try:
                params.update(json.loads(payload))
            except ValueError:
                invalid = {"status": 400, "text": "invalid_payload"}
                return _text_answer(400, "invalid_payload"), invalid
        blocks = params.get("blocks")
        problem = (
            message_error(text="x", blocks=blocks, attachments=None, metadata=None)
            if blocks is not None
            else None
        )
        if problem is not None:
            recorded = {"status": 400, "text": problem.error, "messages": list(problem.messages)}
            return _text_answer(400, problem.error), recorded
        return _text_answer(200, "ok"), {"status": 200, "text": "ok"}

    # ----------------------------------------------------------------- channels & messages

    def _resolve_channel(self, raw: object) -> str | None:
        if not isinstance(raw, str) or not raw:
            return None
        name = raw.removeprefix("#")
        for channel_id, channel_name in self._channels.items():
            if raw == channel_id or name == channel_name:
                return channel_id
        if _CHANNEL_ID.match(raw):
            return raw
        if _USER_ID.match(raw):
            return "D" + raw[1:]  # posting to a user id writes to the DM with that user
        return None

    def _channel(self, raw: object, error: str = "channel_not_found") -> str:
        channel_id = self._resolve_channel(raw)
        if channel_id is None:
            raise SlackError(error)
        return channel_id

    def _next_ts(self) -> str:
        self._last_ts = max(time.time_ns() // 1000, self._last_ts + 1)
        return _format_ts(self._last_ts)

    def _sorted(self, channel_id: str) -> list[Json]:
        return sorted(self._messages.get(channel_id, {}).values(), key=lambda m: _ts_key(m["ts"]))

    def _find(self, channel_id: str, ts: object, error: str = "message_not_found") -> Json:
        found = self._messages.get(channel_id, {}).get(str(ts))
        if found is None:
            raise SlackError(error)
        return found

    def _store_message(self, channel_id: str, params: Json, *, user: str) -> Json:
        """Append a message (or thread reply) to a channel and update its thread root."""
        message: Json = {"type": "message", "text": params.get("text") or "", "user": user}
        if user == self.bot_user_id:
            message.update(bot_id=self.bot_id, app_id=self.app_id)
        for key in ("blocks", "attachments", "metadata", "files"):
            if params.get(key) is not None:
                message[key] = params[key]
        root: Json | None = None
        if params.get("thread_ts"):
            parent = self._find(channel_id, params["thread_ts"], "thread_not_found")
            root = self._find(channel_id, parent.get("thread_ts", parent["ts"]), "thread_not_found")
        ts = self._next_ts()
        message.update(ts=ts, team=self.team_id)
        if root is not None:
            message.update(thread_ts=root["ts"], parent_user_id=root["user"])
            if _truthy(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
            reply_users = sorted({*root.get("reply_users", []), user})
            root.update(
                thread_ts=root["ts"],
                reply_count=root.get("reply_count", 0) + 1,
                latest_reply=ts,
                reply_users=reply_users,
                reply_users_count=len(reply_users),
            )
        self._messages.setdefault(channel_id, {})[ts] = message
        return message

    @staticmethod
    def _check_message(params: Json, *, text: object = None) -> None:
        problem = message_error(
            text=params.get("text") if text is None else text,
            blocks=params.get("blocks"),
            attachments=params.get("attachments"),
            metadata=params.get("metadata"),
        )
        if problem is not None:
            raise SlackError.from_limit(problem)

    # ----------------------------------------------------------------- auth & chat

    def _auth_test(self, params: Json) -> Json:
        return {
            "ok": True,
            "url": "https://standin.slack.com/",
            "team": "Slack Stand-in",
            "user": self._users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: Json) -> Json:
        channel_id = self._channel(params.get("channel"))
        self._check_message(params)
        message = self._store_message(channel_id, params, user=self.bot_user_id)
        reply = copy.deepcopy(message)
        return {"ok": True, "channel": channel_id, "ts": message["ts"], "message": reply}

    def _chat_update(self, params: Json) -> Json:
        """Replace what is given (``blocks=[]`` clears blocks); metadata kept unless given."""
        channel_id = self._channel(params.get("channel"))
        message = self._find(channel_id, params.get("ts"))
        if message["user"] != self.bot_user_id:
            raise SlackError("cant_update_message")
        if all(params.get(k) is None for k in ("text", "blocks", "attachments")):
            raise SlackError("no_text")
        new_text = params["text"] if params.get("text") is not None else message["text"]
        blocks = params["blocks"] if params.get("blocks") is not None else message.get("blocks")
        self._check_message({**params, "blocks": blocks}, text=new_text)
        message["text"] = new_text
        for key in ("blocks", "attachments", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
                if params[key] == [] and key != "metadata":
                    del message[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel_id,
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(message),
        }

    def _chat_post_ephemeral(self, params: Json) -> Json:
        self._channel(params.get("channel"))
        if not _USER_ID.match(str(params.get("user") or "")):
            raise SlackError("user_not_in_channel")
        self._check_message(params)
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_delete(self, params: Json) -> Json:
        channel_id = self._channel(params.get("channel"))
        message = self._find(channel_id, params.get("ts"))
        if message["user"] != self.bot_user_id:
            raise SlackError("cant_delete_message")
        del self._messages[channel_id][message["ts"]]
        return {"ok": True, "channel": channel_id, "ts": message["ts"]}

    def _chat_get_permalink(self, params: Json) -> Json:
        channel_id = self._channel(params.get("channel"))
        message = self._find(channel_id, params.get("message_ts"))
        link = f"https://standin.slack.com/archives/{channel_id}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts", message["ts"]) != message["ts"]:
            link += f"?thread_ts={message['thread_ts']}&cid={channel_id}"
        return {"ok": True, "channel": channel_id, "permalink": link}

    # ----------------------------------------------------------------- views

    def _store_view(self, view: Json, view_id: str | None = None) -> Json:
        view_id = view_id or f"V{next(self._ids):010d}"
        stored: Json = {
            "id": view_id,
            "team_id": self.team_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            **view,
            "hash": f"{int(time.time())}.{next(self._ids):08x}",
        }
        stored["id"] = stored["root_view_id"] = view_id
        self._views[view_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _checked_view(self, params: Json, expected_type: str | None) -> Json:
        view = params.get("view")
        if view is None:
            raise SlackError("invalid_arguments", ("[ERROR] missing required field: view",))
        problem = view_error(view, expected_type=expected_type)
        if problem is not None:
            raise SlackError.from_limit(problem)
        return cast(Json, view)

    def _check_hash(self, params: Json, view_id: str | None) -> None:
        given = params.get("hash")
        if given and view_id is not None and self._views[view_id]["hash"] != given:
            raise SlackError("hash_conflict")

    def _views_publish(self, params: Json) -> Json:
        user_id = _require(params, "user_id")
        view = self._checked_view(params, "home")
        current = self._home_views.get(user_id)
        self._check_hash(params, current)
        answer = self._store_view(view, current)
        self._home_views[user_id] = answer["view"]["id"]
        return answer

    def _views_open(self, params: Json) -> Json:
        if not params.get("interactivity_pointer"):
            self._use_trigger(_require(params, "trigger_id"))
        return self._store_view(self._checked_view(params, "modal"))

    def _use_trigger(self, trigger: str) -> None:
        """Slack trigger_ids are single-use and expire; minted ones are held to that here."""
        if not _TRIGGER_ID.match(trigger):
            raise SlackError("invalid_trigger_id")
        if trigger not in self._triggers:
            return  # well-formed but minted elsewhere (a hand-written payload): accept
        issued = self._triggers[trigger]
        if issued is None:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - issued > _TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        self._triggers[trigger] = None

    def _views_update(self, params: Json) -> Json:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and external_id:
            matching = (v["id"] for v in self._views.values() if v["external_id"] == external_id)
            view_id = next(matching, None)
        if not view_id or view_id not in self._views:
            raise SlackError("not_found")
        self._check_hash(params, str(view_id))
        return self._store_view(self._checked_view(params, None), str(view_id))

    # ----------------------------------------------------------------- users

    def _users_info(self, params: Json) -> Json:
        user = self._users.get(str(params.get("user")))
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": copy.deepcopy(user)}

    def _usergroups_users_list(self, params: Json) -> Json:
        members = self._usergroups.get(_require(params, "usergroup"))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(members)}

    # ----------------------------------------------------------------- conversations

    def _conversations_history(self, params: Json) -> Json:
        """Top-level messages newest first, paged like Slack with an opaque next_cursor."""
        channel_id = self._channel(params.get("channel"))
        limit = self._limit(params.get("limit"))
        oldest = self._ts_param(params, "oldest", "invalid_ts_oldest")
        latest = self._ts_param(params, "latest", "invalid_ts_latest")
        inclusive = _truthy(params.get("inclusive"))
        before = self._decode_cursor(params["cursor"]) if params.get("cursor") else None

        def wanted(message: Json) -> bool:
            key = _ts_key(message["ts"])
            is_top = message.get("thread_ts", message["ts"]) == message["ts"]
            return (
                (is_top or message.get("subtype") == "thread_broadcast")
                and (oldest is None or key > oldest or (inclusive and key == oldest))
                and (latest is None or key < latest or (inclusive and key == latest))
                and (before is None or key < before)
            )

        selected = [m for m in reversed(self._sorted(channel_id)) if wanted(m)]
        page = selected[:limit]
        body: Json = {
            "ok": True,
            "messages": self._for_reading(page, params),
            "has_more": len(selected) > limit,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if body["has_more"]:
            cursor = base64.b64encode(f"next_ts:{_ts_key(page[-1]['ts'])}".encode()).decode()
            body["response_metadata"] = {"next_cursor": cursor}
        return body

    def _conversations_replies(self, params: Json) -> Json:
        channel_id = self._channel(params.get("channel"))
        root = self._find(channel_id, _require(params, "ts"), "thread_not_found")
        root_ts = root.get("thread_ts", root["ts"])
        thread = [m for m in self._sorted(channel_id) if m.get("thread_ts", m["ts"]) == root_ts]
        thread = [m for m in thread if m["ts"] == root_ts or m.get("thread_ts") == root_ts]
        return {"ok": True, "messages": self._for_reading(thread, params), "has_more": False}

    @staticmethod
    def _for_reading(messages: list[Json], params: Json) -> list[Json]:
        """Copies as reads return them: metadata only with ``include_all_metadata``."""
        keep_metadata = _truthy(params.get("include_all_metadata"))
        out = copy.deepcopy(messages)
        for message in out:
            if not keep_metadata:
                message.pop("metadata", None)
        return out

    @staticmethod
    def _limit(raw: object) -> int:
        if raw is None or raw == "":
            return _HISTORY_LIMIT
        try:
            limit = int(str(raw))
        except ValueError as exc:
            raise SlackError("invalid_limit") from exc
        return _HISTORY_LIMIT if limit <= 0 else min(limit, _HISTORY_MAX)

    @staticmethod
    def _ts_param(params: Json, key: str, error: str) -> int | None:
        if params.get(key) in (None, ""):
            return None
        try:
            return _ts_key(params[key])
        except ValueError as exc:
            raise SlackError(error) from exc

    @staticmethod
    def _decode_cursor(cursor: object) -> int:
        try:
            decoded = base64.b64decode(str(cursor), validate=True).decode()
            prefix, _, value = decoded.partition(":")
            if prefix != "next_ts":
                raise ValueError(decoded)
            return int(value)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise SlackError("invalid_cursor") from exc

    def _conversations_info(self, params: Json) -> Json:
        channel_id = self._channel(params.get("channel"))
        is_im = channel_id.startswith("D")
        return {
            "ok": True,
            "channel": {
                "id": channel_id,
                "name": self._channels.get(channel_id, channel_id.lower()),
                "is_channel": channel_id.startswith("C"),
                "is_group": channel_id.startswith("G"),
                "is_im": is_im,
                "is_private": not channel_id.startswith("C"),
                "is_archived": False,
                "is_member": True,
                "created": 1_700_000_000,
                **({"user": "U" + channel_id[1:]} if is_im else {}),
            },
        }

    def _conversations_open(self, params: Json) -> Json:
        """A DM (one user) or group DM id; reopening gives the same id, as on Slack."""
        if params.get("channel"):
            return {"ok": True, "channel": {"id": self._channel(params["channel"])}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if not all(_USER_ID.match(u) for u in users):
            raise SlackError("user_not_found")
        if len(users) == 1:
            return {"ok": True, "channel": {"id": "D" + users[0][1:]}}
        return {"ok": True, "channel": {"id": "G" + "".join(sorted(u[1:] for u in users))[:10]}}

    # ----------------------------------------------------------------- files

    def _files_get_upload_url(self, params: Json) -> Json:
        filename = _require(params, "filename")
        try:
            length = int(_require(params, "length"))
        except ValueError as exc:
            raise SlackError("invalid_arguments", ("[ERROR] length must be an integer",)) from exc
        file_id = f"F{next(self._ids):010d}"
        self._files[file_id] = {"id": file_id, "name": filename, "length": length}
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: Json) -> Json:
        """Share uploaded files; each file id completes once, and must have been uploaded."""
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments", ("[ERROR] missing required field: files",))
        targets = [params["channel_id"]] if params.get("channel_id") else []
        targets += [c for c in str(params.get("channels") or "").split(",") if c]
        channel_ids = [self._channel(c, "invalid_channel") for c in targets]
        issued = []
        for item in files:
            found = self._files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if found is None or not found.get("uploaded") or found.get("completed"):
                raise SlackError("file_not_found")
            issued.append((found, item))
        shared = [self._file_object(found, item, channel_ids) for found, item in issued]
        for found, _ in issued:
            found["completed"] = True
        for channel_id in channel_ids:
            share = {
                "text": params.get("initial_comment") or "",
                "files": copy.deepcopy(shared),
                "thread_ts": params.get("thread_ts"),
            }
            self._store_message(channel_id, share, user=self.bot_user_id)
        return {"ok": True, "files": shared}

    def _file_object(self, found: Json, item: Json, channel_ids: list[str]) -> Json:
        name = found["name"]
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        now = int(time.time())
        return {
            "id": found["id"],
            "created": now,
            "timestamp": now,
            "name": name,
            "title": item.get("title") or name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2] if "." in name else "binary",
            "user": self.bot_user_id,
            "size": found.get("size", 0),
            "url_private": f"{self.base_url}/files/{found['id']}/{name}",
            "permalink": f"https://standin.slack.com/files/{self.bot_user_id}/{found['id']}/{name}",
            "channels": [c for c in channel_ids if c.startswith("C")],
            "groups": [c for c in channel_ids if c.startswith("G")],
            "ims": [c for c in channel_ids if c.startswith("D")],
        }


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
        server = cast(_Server, self.server)
        split = urlsplit(self.path)
        request = _Request(
            unquote(split.path), split.query, dict(self.headers.items()), self._read_body()
        )
        answer = server.standin._answer(request)
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


class _Server(ThreadingHTTPServer):
    """Tracks live connections so ``stop`` can cut keep-alive sockets promptly."""

    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops SYNs under concurrent clients

    def __init__(self, address: tuple[str, int], standin: SlackStandin) -> None:
        super().__init__(address, _Handler)
        self.standin = standin
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
