"""A Slack Web API stand-in: a real HTTP server on 127.0.0.1 that answers like Slack.

No machine that runs the tests can reach slack.com, and a mocked ``WebClient`` would only prove
that the bot calls its own mock. This server sits at the protocol boundary instead: the bot's
real ``slack_sdk`` client talks HTTP to it (``WebClient(base_url=standin.api_url)`` or
``SLACK_API_URL``), gets Slack's response shapes and error codes back, and every call is
recorded for assertions. ``fail_next`` makes it rate-limit, fail or hang on demand, so retry and
timeout paths are tested against the same client code that runs in production.

Deliberate leniencies, all documented where they happen: any well-formed channel id is
accepted without ``add_channel`` (but ``conversations.members`` knows only the channels and
members it was given: an access check must not pass by default); a user id used as a channel
stands for the DM with that user (``U123`` -> ``D123``); well-formed trigger ids that the
stand-in did not mint are accepted.

Socket Mode too: ``apps.connections.open`` (with ``app_token``) hands out a WebSocket URL, and a
test pushes envelopes to the connected app with ``socket_send`` and reads its acks with
``wait_for_ack``; hello, envelopes and acks are recorded as ``socket_mode.*`` calls.

This module is ``SlackStandin``, the side a test sees: start and stop, setup, queued failures
and inspection of what was called. The rest of the package: ``http_server`` (HTTP in and out),
``dispatch`` (from request to answer, and the table of methods), ``state`` (the workspace), one
``methods_*`` module per family of Web API methods, ``failures`` and ``limits``;
``socket_mode`` over ``websocket_server`` for Socket Mode.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.slack_standin import dispatch
from bot.slack_standin.failures import Failure, FailureQueues
from bot.slack_standin.http_server import Answer, Request, StandinHTTPServer, text_answer
from bot.slack_standin.methods_views import mint_trigger
from bot.slack_standin.protocol import CHANNEL_ID, USER_ID, Json, SlackError
from bot.slack_standin.socket_mode import LINK_PATH, SocketMode
from bot.slack_standin.state import Workspace

__all__ = ["RecordedCall", "SlackError", "SlackStandin"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedCall:
    """One request the stand-in answered, in the shape a test asserts on.

    ``method`` is the Web API method, ``"upload"`` / ``"response_url"`` for those sinks, or
    ``"socket_mode.hello"`` / ``".envelope"`` / ``".ack"`` / ``".invalid"`` for Socket Mode
    messages (``params`` is then the message).
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


class SlackStandin:
    """A Slack Web API you can start in a test; see the module docstring for why."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_token: str = "xoxb-standin",
        app_token: str = "xapp-1-A0STANDIN-1-standin",
        bot_user_id: str = "UBOT",
        team_id: str = "T0STANDIN",
    ) -> None:
        self.host = host
        self.port = port
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = "B0STANDIN"
        self.app_id = "A0STANDIN"
        self.calls: list[RecordedCall] = []
        # The workspace's identity is fixed here; the attributes above only report it.
        self._workspace = Workspace(
            team_id=team_id, bot_user_id=bot_user_id, bot_id=self.bot_id, app_id=self.app_id
        )
        self.uploads: dict[str, bytes] = self._workspace.uploads
        # One re-entrant lock guards all state; Condition lets wait_for_calls sleep on it.
        self._cond = threading.Condition(threading.RLock())
        self._failures = FailureQueues()
        self._server: StandinHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._socket_mode = SocketMode(host=host, app_id=self.app_id, record=self._record_socket)
        self.add_user(bot_user_id, name="review-bot", real_name="Review Bot", is_bot=True)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> SlackStandin:
        """Bind and serve in a daemon thread; returns self so ``s = SlackStandin().start()``."""
        if self._server is not None:
            raise RuntimeError("SlackStandin is already started")
        server = StandinHTTPServer((self.host, self.port), self._answer)
        self._server = server
        with self._cond:
            self._workspace.base_url = self.base_url
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
        # After the HTTP side: an app that reconnects now cannot get a new WebSocket URL.
        self._socket_mode.stop()
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
        with self._cond:
            self._workspace.add_user(user_id, name=name, real_name=real_name, is_bot=is_bot, tz=tz)

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        """Make ``usergroups.users.list`` answer for a user group (``S...`` id)."""
        with self._cond:
            self._workspace.usergroups[usergroup_id] = list(user_ids)

    def add_channel(
        self, channel_id: str, name: str | None = None, *, members: Sequence[str] | None = None
    ) -> None:
        """Name a channel, so it can be addressed as ``#name`` (any ``C/G/D...`` id can be posted
        to anyway), and make ``conversations.members`` know it: with ``members``, exactly those;
        without, the members it already had (none for a new channel). ``reset`` keeps both."""
        if not CHANNEL_ID.match(channel_id):
            raise ValueError(f"not a Slack channel id: {channel_id!r} (C…, G… or D…)")
        users = set(_user_ids(members or ()))
        with self._cond:
            self._workspace.channels[channel_id] = name or channel_id.lower()
            if members is not None or channel_id not in self._workspace.members:
                self._workspace.members[channel_id] = users

    def add_member(self, channel: str, user_id: str) -> None:
        """Make ``user_id`` a member of a channel given to ``add_channel`` (by id or name)."""
        [user] = _user_ids([user_id])
        with self._cond:
            channel_id = self._workspace.resolve_channel(channel)
            if channel_id not in self._workspace.channels:
                raise ValueError(f"unknown channel {channel!r}: call add_channel first")
            self._workspace.members[channel_id].add(user)

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
            channel_id = self._workspace.channel(channel)
            params = {"text": text, "blocks": blocks, "metadata": metadata, "thread_ts": thread_ts}
            return str(self._workspace.store_message(channel_id, params, user=user)["ts"])

    def trigger_id(self) -> str:
        """A fresh trigger_id; ``views.open`` refuses it once used or after three seconds."""
        with self._cond:
            return mint_trigger(self._workspace)

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
        carry_out: bool = False,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail.

        ``status`` 429 answers ``ratelimited`` with a ``Retry-After`` header (``retry_after``,
        default 1). Other non-200 statuses answer that HTTP status. ``status=200`` with
        ``error`` answers ``{"ok": false, "error": error}``. ``delay`` sleeps before answering,
        to make clients time out; with ``status=200`` and no ``error`` the call is then carried
        out normally, like a slow Slack that did post the message the client gave up on.
        ``carry_out=True`` carries the call out before answering with the failure (a 500 after
        the message was posted), so a client cannot tell from the answer whether it happened.
        """
        failure = Failure(status, retry_after, delay, error, times, carry_out)
        with self._cond:
            self._failures.add(method, failure)

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
            channel_id = self._workspace.resolve_channel(channel) or channel
            return copy.deepcopy(self._workspace.sorted_messages(channel_id))

    def message(self, channel: str, ts: str) -> Json:
        with self._cond:
            channel_id = self._workspace.resolve_channel(channel) or channel
            found = self._workspace.messages.get(channel_id, {}).get(ts)
            if found is None:
                raise KeyError(f"no message {ts} in {channel}")
            return copy.deepcopy(found)

    # ----------------------------------------------------------------- Socket Mode

    def socket_send(
        self, payload_type: str, payload: Json, *, accepts_response_payload: bool | None = None
    ) -> str:
        """Send ``payload`` to the connected Socket Mode app in an envelope of ``payload_type``
        (``events_api``, ``interactive`` or ``slash_commands``); the envelope id.

        ``accepts_response_payload`` defaults to what Slack sends for the type (false for
        events). RuntimeError when no app is connected: wait for a ``socket_mode.hello`` call."""
        return self._socket_mode.send(
            payload_type, payload, accepts_response_payload=accepts_response_payload
        )

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> Json:
        """Block until the app acknowledged envelope ``envelope_id``; the ack it sent
        (``{"envelope_id", "payload"?}``)."""

        def ack() -> Json | None:
            return next(
                (
                    call.params
                    for call in self.calls_to("socket_mode.ack")
                    if call.params.get("envelope_id") == envelope_id
                ),
                None,
            )

        with self._cond:
            found = self._cond.wait_for(ack, timeout)
        if found is None:
            raise TimeoutError(f"waited {timeout:g}s for the ack of envelope {envelope_id}")
        return copy.deepcopy(found)

    def reset(self) -> None:
        """Forget calls, messages, uploads, views and failures; keep users, groups, channels and
        their members."""
        with self._cond:
            self.calls.clear()
            self._failures.clear()
            self._workspace.forget_activity()

    # ----------------------------------------------------------------- request handling

    def _answer(self, request: Request) -> Answer:
        """Answer and record one HTTP request; called by the handler threads."""
        at = time.monotonic()
        routed = dispatch.route(request.path)
        if routed is None:
            return text_answer(404, "Not Found")
        method, rest = routed
        with self._cond:
            params, answer, recorded = dispatch.answer(
                method,
                rest,
                request,
                workspace=self._workspace,
                failures=self._failures,
                bot_token=self.bot_token,
                app_token=self.app_token,
                open_connection=self._socket_mode.open_connection,
            )
            self.calls.append(
                RecordedCall(method, params, dict(request.headers), at, recorded, request.path)
            )
            self._cond.notify_all()
        logger.info("%s -> %s", method, recorded.get("error") or recorded.get("status") or "ok")
        return answer

    def _record_socket(self, method: str, message: Json, response: Json) -> None:
        """Record one Socket Mode message; called by the WebSocket threads and ``socket_send``."""
        with self._cond:
            self.calls.append(
                RecordedCall(method, message, {}, time.monotonic(), response, LINK_PATH)
            )
            self._cond.notify_all()
        logger.info("%s -> %s", method, response.get("error") or "ok")


def _user_ids(users: Iterable[str]) -> list[str]:
    """The ids as given; a ValueError naming the first that is not a Slack user id."""
    users = list(users)
    for user in users:
        if not isinstance(user, str) or not USER_ID.match(user):
            raise ValueError(f"not a Slack user id: {user!r} (U… or W…)")
    return users
