"""A running `hitl serve` child process against the Slack stand-in, and a Slack-side driver."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.slack_standin.clicks import (
    block_actions_payload,
    event_body,
    find_action,
    form_body,
    interactive_body,
    sign,
    slash_command_payload,
)
from bot.slack_standin.server import SlackStandin

SIGNING_SECRET = "scenario-signing-secret"
API_TOKEN = "scenario-api-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`hitl serve` in a child process, as the Procfile's ``web`` runs it: given the test's
    stand-in as its Slack (SLACK_BOT_TOKEN, SLACK_API_URL), the way a deploy is given Slack, so
    the start-up check (``auth.test``) and every call go through the production path.

    With ``socket_mode``: `hitl serve --socket-mode`, given an app-level token and no signing
    secret, and ready once the stand-in sent it ``hello`` over the WebSocket; Slack's side is then
    ``standin.socket_send`` instead of signed POSTs.

    With ``standin=None``: `hitl serve --standin`, no Slack variable set; it runs the built-in
    stand-in in its own process (the test cannot read its calls, only the API's answers)."""

    def __init__(
        self,
        *,
        database_url: str,
        config_path: Path,
        standin: SlackStandin | None,
        log_path: Path,
        socket_mode: bool = False,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
            "DATABASE_URL": database_url,
            "HITL_CONFIG": str(config_path),
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "HITL_API_TOKEN": API_TOKEN,
            "PORT": str(self.port),
            "OPENBLAS_NUM_THREADS": "1",
        }
        command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"]
        if standin is None:
            command.append("--standin")
        else:
            env["SLACK_BOT_TOKEN"] = standin.bot_token
            # works without the trailing slash
            env["SLACK_API_URL"] = standin.api_url.rstrip("/")
        if socket_mode:
            del env["SLACK_SIGNING_SECRET"]  # Socket Mode needs none: the socket is the proof
            if standin is not None:
                env["SLACK_APP_TOKEN"] = standin.app_token
            command.append("--socket-mode")
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.http = httpx.Client(base_url=self.base_url, timeout=15)
        self._wait_healthy()
        if socket_mode and standin is not None:
            self._wait_connected(standin)

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hitl serve exited:\n{self.log()}")
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"hitl serve not healthy after {timeout} s:\n{self.log()}")

    def _wait_connected(self, standin: SlackStandin, timeout: float = 15.0) -> None:
        try:
            standin.wait_for_calls("socket_mode.hello", 1, timeout=timeout)
        except TimeoutError:
            raise RuntimeError(
                f"hitl serve never connected over Socket Mode:\n{self.log()}"
            ) from None

    def log(self) -> str:
        if not self._log.closed:  # readable after stop() too
            self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.http.close()
        self._log.close()

    # producer side
    def post_items(self, queue: str, items: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post(
            f"/v1/queues/{queue}/items",
            json={"items": items},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )

    def get_item(self, queue: str, item_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"/v1/queues/{queue}/items/{item_id}",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
        response.raise_for_status()
        return dict(response.json())

    # Slack side
    def send(
        self, body: str, *, content_type: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        signed = sign(body, signing_secret=SIGNING_SECRET) if headers is None else headers
        return self.http.post(
            "/slack/events", content=body, headers={**signed, "Content-Type": content_type}
        )

    def click(
        self,
        *,
        user: str,
        channel: str,
        message: dict[str, Any],
        predicate: Any,
        action_ts: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        action = find_action(message, predicate)
        payload = block_actions_payload(
            user_id=user, channel=channel, message=message, action=action, action_ts=action_ts
        )
        return self.send(
            interactive_body(payload),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )

    def click_ephemeral(
        self,
        *,
        user: str,
        channel: str,
        blocks: list[dict[str, Any]],
        predicate: Any,
        response_url: str,
        message_ts: str = "1700000000.000001",
    ) -> httpx.Response:
        """A click on an ephemeral message (the card `/hitl next` shows): Slack marks the
        container ``is_ephemeral``, sends no ``message`` and a response_url that can replace
        the ephemeral message, the only way to change it."""
        action = find_action({"blocks": blocks}, predicate)
        payload = block_actions_payload(
            user_id=user,
            channel=channel,
            message={"ts": message_ts, "blocks": blocks},
            action=action,
            response_url=response_url,
        )
        payload["container"]["is_ephemeral"] = True
        del payload["message"]
        return self.send(
            interactive_body(payload), content_type="application/x-www-form-urlencoded"
        )

    def event(self, event: dict[str, Any]) -> httpx.Response:
        return self.send(event_body(event), content_type="application/json")

    def command(self, *, text: str, user: str, channel: str, response_url: str) -> httpx.Response:
        fields = slash_command_payload(
            command="/hitl", text=text, user_id=user, channel_id=channel, response_url=response_url
        )
        body = form_body(fields)
        return self.send(body, content_type="application/x-www-form-urlencoded")


def run_hitl(
    *args: str, database_url: str, config_path: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `hitl ARGS...` in a child process, with no Slack variables but those in ``env``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k != "PORT"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={
            **inherited,
            "DATABASE_URL": database_url,
            "HITL_CONFIG": str(config_path),
            "OPENBLAS_NUM_THREADS": "1",
            **(env or {}),
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_until(predicate: Any, *, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def vote_button(label_index: int) -> Any:
    def predicate(element: dict[str, Any]) -> bool:
        return str(element.get("action_id", "")).startswith("hitl_vote") and str(
            element.get("value", "")
        ).endswith(f":{label_index}")

    return predicate


def action_id(name: str) -> Any:
    return lambda element: element.get("action_id") == name
