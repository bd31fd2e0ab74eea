"""The demo's simulated reviewers: they answer each review message the stand-in received from
the ground truth, wrong at a set rate on purpose, by signed clicks built the way Slack builds
them and sent to the running `hitl serve` over HTTP."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from bot.slack_standin.clicks import block_actions_payload, interactive_body, sign
from bot.slack_standin.server import SlackStandin

SIGNING_SECRET = "demo-signing-secret"
REVIEWERS = ("U0ANALYST1", "U0ANALYST2", "U0ANALYST3")


class Reviewers:
    """Simulated reviewers: answer each posted message from the truth, wrong at ``error_rate``."""

    def __init__(
        self,
        *,
        standin: SlackStandin,
        events_url: str,
        truth: dict[str, str],
        labels: tuple[str, ...],
        error_rate: float,
        seed: int,
    ) -> None:
        self.standin = standin
        self.events_url = events_url
        self.truth = truth
        self.labels = labels
        self.error_rate = error_rate
        self.rng = np.random.default_rng(seed)
        self.clicks = 0
        self.sent = 0
        self.failed = 0
        self.mistakes = 0
        self._seen = 0
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="reviewer")
        self._http = httpx.Client(timeout=10)
        self._lock = threading.Lock()

    def answer_new_messages(self) -> int:
        posts = self.standin.calls_to("chat.postMessage")[self._seen :]
        self._seen += len(posts)
        for call in posts:
            meta = call.params.get("metadata") or {}
            item_id = (meta.get("event_payload") or {}).get("item_id")
            if item_id is None or "thread_ts" in call.params or not call.response.get("ok"):
                continue
            truth = self.truth[item_id]
            answer = truth
            if self.rng.random() < self.error_rate:
                answer = self.rng.choice([label for label in self.labels if label != truth])
                self.mistakes += 1
            user = REVIEWERS[int(self.rng.integers(len(REVIEWERS)))]
            message = self.standin.message(call.params["channel"], call.response["ts"])
            self.sent += 1
            self._pool.submit(self._click, user, call.params["channel"], message, str(answer))
        return len(posts)

    def _click(self, user: str, channel: str, message: dict[str, Any], answer: str) -> None:
        try:
            self._send_click(user, channel, message, answer)
        except Exception:
            logging.getLogger(__name__).exception("a simulated click failed")
            with self._lock:
                self.failed += 1

    def _send_click(self, user: str, channel: str, message: dict[str, Any], answer: str) -> None:
        index = self.labels.index(answer)
        action = _vote_action(message, index)
        payload = block_actions_payload(
            user_id=user, channel=channel, message=message, action=action
        )
        body = interactive_body(payload)
        headers = {
            **sign(body, signing_secret=SIGNING_SECRET),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        response = self._http.post(self.events_url, content=body, headers=headers)
        response.raise_for_status()
        with self._lock:
            self.clicks += 1

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Let the clicks sent so far land, so a retrain sees their answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.answer_new_messages()
            if self.clicks + self.failed >= self.sent:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()


def _vote_action(message: dict[str, Any], label_index: int) -> dict[str, Any]:
    """The button (or select option) of ``message`` that answers ``label_index``."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if not str(element.get("action_id", "")).startswith("hitl_vote"):
                continue
            if element.get("type") == "button" and element["value"].endswith(f":{label_index}"):
                return {**element, "block_id": block.get("block_id", "")}
            for option in element.get("options") or []:
                if option["value"].endswith(f":{label_index}"):
                    return {
                        **element,
                        "block_id": block.get("block_id", ""),
                        "selected_option": option,
                    }
    raise LookupError(f"no vote button for label #{label_index}")
