"""The work of a listener after its ``ack()``: on a pool of its own, with database retries.

Bolt runs listeners on a pool of five threads and answers Slack once ``ack()`` is called, but a
listener still occupies its thread until it returns. A click whose write waits out a database
hiccup (a minute, see ``bot.review.retry``), a `/hitl retrain` of a minute, or five App Homes
being built would hold those threads, and the ``ack()`` of every later request would wait past
Slack's three seconds (Bolt then answers 404). So each listener acknowledges, then hands its
work here.

This is also the edge where a click's failure is told to the person who clicked: a refusal as
it is, a database that stayed away as "nothing was recorded", anything else logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.errors import HitlError
from bot.review.retry import RetryPolicy, is_unavailable, with_retries

logger = logging.getLogger(__name__)

T = TypeVar("T")

NOT_RECORDED = (
    "Your answer was *not recorded*: the database could not be reached for over a minute."
    " The buttons are still on the card; please answer again in a moment."
)
FAILED = "Sorry, that failed; it is logged."


def is_ephemeral(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def tell(body: dict[str, Any], client: WebClient, respond: Respond, text: str) -> None:
    """A notice only the clicker sees. A click on an ephemeral copy (`/hitl next`) or a slash
    command may come from a channel the bot is not in, so the notice goes through the
    response_url; an event has nobody to tell."""
    if is_ephemeral(body) or body.get("command"):
        respond(text=text, response_type="ephemeral", replace_original=False)
        return
    user = (body.get("user") or {}).get("id")
    channel = (body.get("container") or {}).get("channel_id")
    if user and channel:
        client.chat_postEphemeral(channel=channel, user=user, text=text)


class AfterAck:
    """Runs click work off Bolt's threads and retries its database calls (``retry``)."""

    def __init__(self, policy: RetryPolicy | None = None, *, workers: int = 16) -> None:
        """``policy``: how long a database write rides out a hiccup (tests shorten it)."""
        self.policy = policy or RetryPolicy()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="after-ack")

    def retry(
        self, work: Callable[[], T], *, what: str, on_retry: Callable[[], None] | None = None
    ) -> T:
        return with_retries(work, policy=self.policy, what=what, on_retry=on_retry)

    def shutdown(self) -> None:
        """Wait for the work already handed over (a process stopping, a test ending)."""
        self._pool.shutdown(wait=True)

    def submit(
        self,
        body: dict[str, Any],
        client: WebClient,
        respond: Respond,
        work: Callable[[], None],
    ) -> None:
        self._pool.submit(self._run, body, client, respond, work)

    def _run(
        self,
        body: dict[str, Any],
        client: WebClient,
        respond: Respond,
        work: Callable[[], None],
    ) -> None:
        try:
            work()
            return
        except HitlError as refused:
            text = str(refused)
        except Exception as error:
            if is_unavailable(error):
                logger.error("a click was not recorded, the database stayed unavailable: %s", error)
                text = NOT_RECORDED
            else:
                logger.exception("click failed")
                text = FAILED
        try:
            tell(body, client, respond, text)
        except Exception:
            logger.exception("could not tell the clicker that their click failed")
