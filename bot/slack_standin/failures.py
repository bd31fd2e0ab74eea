"""Failures queued with ``SlackStandin.fail_next``, and the answers Slack gives for them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack_standin.http_server import Answer, json_answer
from bot.slack_standin.protocol import Json

_HTTP_ERRORS = {429: "ratelimited", 503: "service_unavailable"}


@dataclass
class Failure:
    status: int
    retry_after: int | None
    delay: float
    error: str | None
    remaining: int
    carry_out: bool = False  # carry the call out, then answer with the failure anyway

    @property
    def replaces_answer(self) -> bool:
        """False for a slow success (status 200, no error): the call is then carried out."""
        return self.status != 200 or self.error is not None

    def answer(self) -> tuple[Answer, Json]:
        """What to send, and what to record (with ``"status"`` for HTTP errors)."""
        if self.status == 200:
            body: Json = {"ok": False, "error": self.error}
            return json_answer(200, body), body
        default = _HTTP_ERRORS.get(self.status, "internal_error")
        body = {"ok": False, "error": self.error or default}
        headers: tuple[tuple[str, str], ...] = ()
        if self.status == 429 or self.retry_after is not None:
            retry_after = self.retry_after if self.retry_after is not None else 1
            headers = (("Retry-After", str(retry_after)),)
        return json_answer(self.status, body, headers), {"status": self.status, **body}


class FailureQueues:
    """Per Web API method, the failures still to be served, first queued first."""

    def __init__(self) -> None:
        self._queues: dict[str, list[Failure]] = {}

    def add(self, method: str, failure: Failure) -> None:
        self._queues.setdefault(method, []).append(failure)

    def take(self, method: str) -> Failure | None:
        """The failure the next call to ``method`` meets, counting it as served once."""
        queue = self._queues.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure

    def clear(self) -> None:
        self._queues.clear()
