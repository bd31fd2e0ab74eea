"""Posting review messages from the outbox to Slack, as fast as Slack allows.

The deliverer claims rows in batches, posts them on a few threads and records the ``ts``. It
slows down only when Slack answers 429 (it waits the Retry-After it was given); transient
failures (5xx, timeouts) are retried with backoff, permanent ones (a missing channel, blocks
Slack refuses) are marked failed with Slack's error for `hitl clock` and the operator.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.context import AppContext
from bot.errors import slack_error
from bot.review.cards import METADATA_EVENT_TYPE, metadata_for, render
from storage import outbox
from storage.tables import ReviewMessage, utcnow

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_metadata_format",
        "msg_too_long",
        "no_text",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
    }
)
STALE_CLAIM = timedelta(seconds=60)


@dataclass(frozen=True)
class PostResult:
    message_id: int
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when Slack rate-limited us
    permanent: bool = False


class Deliverer:
    def __init__(self, ctx: AppContext, *, threads: int = 4, batch: int = 50) -> None:
        self.ctx = ctx
        self.batch = batch
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="deliver")
        self._paused_until = 0.0
        self._last_recovery = 0.0
        self.alive = True

    def run_forever(self, stop: threading.Event, *, idle_poll: float = 0.5) -> None:
        while not stop.is_set():
            try:
                pause = self._paused_until - time.monotonic()
                if pause > 0:
                    stop.wait(pause)
                    continue
                if time.monotonic() - self._last_recovery > STALE_CLAIM.total_seconds() / 2:
                    self.recover_stale_claims()
                if self.run_once() == 0:
                    self.ctx.wake_delivery.wait(idle_poll)
                    self.ctx.wake_delivery.clear()
                self.alive = True
            except Exception:  # keep delivering: one bad round must not stop the process
                self.alive = False
                logger.exception("delivery round failed")
                stop.wait(1.0)
        self._pool.shutdown(wait=True)

    def run_once(self) -> int:
        """Claim and post one batch; the number of messages handled."""
        caps = {name: q.max_open for name, q in self.ctx.config.queues.items()}
        with self.ctx.sessions.begin() as session:
            claimed = outbox.claim_batch(session=session, max_open=caps, limit=self.batch)
            jobs = [(m.id, *self._render(m)) for m in claimed]
        if not jobs:
            return 0
        results = list(self._pool.map(lambda job: self._post(*job), jobs))
        self._record(results)
        return len(results)

    def _render(self, message: ReviewMessage) -> tuple[str, str, list[dict], dict[str, object]]:
        queue = self.ctx.config.queue(message.queue)
        text, blocks = render(message.item, queue, (), now=utcnow())
        return message.channel, text, blocks, metadata_for(message.item)

    def _post(
        self, message_id: int, channel: str, text: str, blocks: list[dict], metadata: dict
    ) -> PostResult:
        try:
            response = self.ctx.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            error = slack_error(exc)
            if status == 429:
                retry_after = float(exc.response.headers.get("Retry-After", 1))
                return PostResult(message_id, error=error, retry_after=retry_after)
            return PostResult(message_id, error=error, permanent=error in PERMANENT_ERRORS)
        except Exception as exc:  # timeouts, refused connections: transient
            return PostResult(message_id, error=f"{type(exc).__name__}: {exc}")
        return PostResult(message_id, ts=str(response["ts"]))

    def _record(self, results: list[PostResult]) -> None:
        with self.ctx.sessions.begin() as session:
            for r in results:
                if r.ts is not None:
                    outbox.mark_posted(session=session, message_id=r.message_id, ts=r.ts)
                elif r.retry_after is not None:
                    self._paused_until = max(self._paused_until, time.monotonic() + r.retry_after)
                    row = session.get_one(ReviewMessage, r.message_id)
                    row.attempts -= 1  # being rate-limited is not a failed attempt
                    outbox.mark_retry(
                        session=session,
                        message_id=r.message_id,
                        error=r.error or "ratelimited",
                        delay=timedelta(seconds=r.retry_after),
                    )
                else:
                    self._record_failure(session, r)

    def _record_failure(self, session: Session, r: PostResult) -> None:
        row = session.get_one(ReviewMessage, r.message_id)
        error = r.error or "unknown"
        if r.permanent or row.attempts >= MAX_ATTEMPTS:
            logger.error("giving up on message %s: %s", r.message_id, error)
            outbox.mark_failed(session=session, message_id=r.message_id, error=error)
        else:
            delay = timedelta(seconds=min(2**row.attempts, 300))
            logger.warning("message %s failed (%s); retry in %s", r.message_id, error, delay)
            outbox.mark_retry(session=session, message_id=r.message_id, error=error, delay=delay)

    def recover_stale_claims(self) -> int:
        """Finish the posts of a deliverer that died between posting and recording the ts.

        The message may be in the channel already: look for its metadata there before posting
        again, so a restart never posts an item twice.
        """
        self._last_recovery = time.monotonic()
        with self.ctx.sessions.begin() as session:
            stale = outbox.stale_claims(session=session, older_than=STALE_CLAIM)
            for row in stale:
                ts = self._find_posted(row)
                if ts is not None:
                    outbox.mark_posted(session=session, message_id=row.id, ts=ts)
                else:
                    row.state = "waiting"
            return len(stale)

    def _find_posted(self, row: ReviewMessage) -> str | None:
        assert row.claimed_at is not None
        oldest = f"{row.claimed_at.timestamp() - 5:.6f}"
        cursor = None
        while True:
            page = self.ctx.client.conversations_history(
                channel=row.channel,
                oldest=oldest,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            messages: list[dict[str, Any]] = page.get("messages") or []
            for message in messages:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if (
                    meta.get("event_type") == METADATA_EVENT_TYPE
                    and payload.get("queue") == row.queue
                    and payload.get("item_id") == row.item.shown_id
                ):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
