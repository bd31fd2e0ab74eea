"""Posting review messages from the outbox to Slack, as fast as Slack allows.

The deliverer claims rows in batches, posts them on a few threads and records the ``ts``. It
slows down only when Slack answers 429 (it waits the Retry-After it was given); transient
failures (5xx, timeouts) are retried with backoff, permanent ones (a missing channel, blocks
Slack refuses) are marked failed with Slack's error for `hitl clock` and the operator.

A post that ends without a clear answer (a timeout, a dropped connection, a 5xx) may have been
carried out: Slack sometimes posts a message and answers after the client gave up. Such a
message is marked ``unclear_since`` and, before it is posted again, looked for in its channel
by its metadata, as after a crash. Nothing is posted twice, nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.config import QueueConfig
from bot.context import AppContext
from bot.errors import slack_error
from bot.instruments import DELIVERY_ERRORS
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
# A claim is renewed right before its post, and a post takes at most the client's timeout
# (10 s): a claim this old belongs to a deliverer that died.
STALE_CLAIM = timedelta(seconds=30)
# Slack stamps a message with its own clock: look a little before our claim time.
CLOCK_SKEW_SECONDS = 5.0


@dataclass(frozen=True)
class Post:
    """One claimed message, rendered: what to send, and where to look for an earlier post."""

    message_id: int
    channel: str
    queue: str
    item_id: str
    text: str
    blocks: list[dict]
    metadata: dict[str, object]
    unclear_since: datetime | None  # a post of unknown outcome was tried from then on
    attempt: int  # the claim's attempt number: whether the claim is still ours


@dataclass(frozen=True)
class PostResult:
    message_id: int
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when Slack rate-limited us
    permanent: bool = False
    unclear: bool = False  # no clear answer (timeout, 5xx): Slack may have posted it
    not_ours: bool = False  # recovered by another deliverer meanwhile: not posted, not ours


def _without_retries(client: WebClient) -> WebClient:
    """The same client, minus its retry handlers. slack_sdk retries a post whose connection was
    reset, which may post it twice; the deliverer decides itself, after looking in the channel."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        headers=client.headers,
        retry_handlers=[],
    )


class Deliverer:
    def __init__(
        self,
        ctx: AppContext,
        *,
        threads: int = 4,
        batch: int = 50,
        stale_after: timedelta = STALE_CLAIM,
    ) -> None:
        self.ctx = ctx
        self.batch = batch
        self.stale_after = stale_after
        self._client = _without_retries(ctx.client)
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
                if time.monotonic() - self._last_recovery > self.stale_after.total_seconds() / 2:
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
        """Claim and post one batch; the number of messages handled.

        A message whose earlier post ended without a clear answer is first looked for in its
        channel: Slack may have posted it after the client gave up, and posting again would
        show the item twice.
        """
        config = self.ctx.config  # one config per round, even if a reload swaps it meanwhile
        caps = {name: q.max_open for name, q in config.queues.items()}
        with self.ctx.sessions.begin() as session:
            claimed = outbox.claim_batch(session=session, max_open=caps, limit=self.batch)
            posts = [self._render(m, config.queue(m.queue)) for m in claimed]
        if not posts:
            return 0
        settled = self._look_for_earlier_posts([p for p in posts if p.unclear_since is not None])
        to_post = [p for p in posts if p.message_id not in settled]
        results = [*settled.values(), *self._pool.map(self._post, to_post)]
        self._record(results)
        return len(results)

    def _render(self, message: ReviewMessage, queue: QueueConfig) -> Post:
        text, blocks = render(message.item, queue, (), now=utcnow())
        return Post(
            message_id=message.id,
            channel=message.channel,
            queue=message.queue,
            item_id=message.item.shown_id,  # what its metadata carries
            text=text,
            blocks=blocks,
            metadata=metadata_for(message.item),
            unclear_since=message.unclear_since,
            attempt=message.attempts,
        )

    def _look_for_earlier_posts(self, posts: list[Post]) -> dict[int, PostResult]:
        """For posts of unknown outcome: the ones found in their channel (posted after all) and
        the ones that cannot be posted now because the channel could not be read."""
        settled: dict[int, PostResult] = {}
        by_channel: dict[tuple[str, str], list[Post]] = {}
        for post in posts:
            by_channel.setdefault((post.channel, post.queue), []).append(post)
        for (channel, queue), group in by_channel.items():
            since = min(p.unclear_since for p in group if p.unclear_since is not None)
            try:
                found = self._find_posted(channel, queue, {p.item_id for p in group}, since=since)
            except SlackApiError as exc:
                status = exc.response.status_code
                retry_after = (
                    float(exc.response.headers.get("Retry-After", 1)) if status == 429 else None
                )
                error = f"looking for an earlier post: {slack_error(exc)}"
                for p in group:
                    settled[p.message_id] = PostResult(
                        p.message_id, error=error, retry_after=retry_after, unclear=True
                    )
                continue
            except Exception as exc:  # timeouts, refused connections: try again later
                error = f"looking for an earlier post: {type(exc).__name__}: {exc}"
                for p in group:
                    settled[p.message_id] = PostResult(p.message_id, error=error, unclear=True)
                continue
            for p in group:
                if p.item_id in found:
                    logger.info(
                        "message %s was posted after all (ts %s)", p.message_id, found[p.item_id]
                    )
                    settled[p.message_id] = PostResult(p.message_id, ts=found[p.item_id])
        return settled

    def _post(self, post: Post) -> PostResult:
        message_id = post.message_id
        with self.ctx.sessions.begin() as session:
            if not outbox.renew_claim(session=session, message_id=message_id, attempt=post.attempt):
                return PostResult(message_id, not_ours=True)
        try:
            response = self._client.chat_postMessage(
                channel=post.channel,
                text=post.text,
                blocks=post.blocks,
                metadata=post.metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            error = slack_error(exc)
            DELIVERY_ERRORS.labels(error=error).inc()
            if status == 429:
                retry_after = float(exc.response.headers.get("Retry-After", 1))
                return PostResult(message_id, error=error, retry_after=retry_after)
            if status >= 500:  # Slack may have posted it before failing
                return PostResult(message_id, error=error, unclear=True)
            return PostResult(message_id, error=error, permanent=error in PERMANENT_ERRORS)
        except Exception as exc:  # timeouts, dropped connections: it may have been posted
            DELIVERY_ERRORS.labels(error=type(exc).__name__).inc()  # a bounded set of names
            return PostResult(message_id, error=f"{type(exc).__name__}: {exc}", unclear=True)
        return PostResult(message_id, ts=str(response["ts"]))

    def _record(self, results: list[PostResult]) -> None:
        with self.ctx.sessions.begin() as session:
            for r in results:
                if r.not_ours:
                    continue
                if r.ts is not None:
                    outbox.mark_posted(session=session, message_id=r.message_id, ts=r.ts)
                    continue
                if r.unclear:
                    outbox.mark_unclear(session=session, message_id=r.message_id)
                if r.retry_after is not None:
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
        again, so a restart never posts an item twice. A channel that cannot be read now leaves
        the message to be looked for again before it is posted.
        """
        self._last_recovery = time.monotonic()
        with self.ctx.sessions.begin() as session:
            stale = outbox.stale_claims(session=session, older_than=self.stale_after)
            for row in stale:
                row.unclear_since = row.unclear_since or row.claimed_at
                row.state = "waiting"
            return len(stale)

    def _find_posted(
        self, channel: str, queue: str, item_ids: set[str], *, since: datetime
    ) -> dict[str, str]:
        """The ts of the review messages of ``item_ids`` posted in ``channel`` since ``since``
        (found by their metadata), reading the channel's history newest first."""
        oldest = f"{since.timestamp() - CLOCK_SKEW_SECONDS:.6f}"
        found: dict[str, str] = {}
        cursor = None
        while True:
            page = self._client.conversations_history(
                channel=channel,
                oldest=oldest,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            messages: list[dict[str, Any]] = page.get("messages") or []
            for message in messages:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                item_id = payload.get("item_id")
                if (
                    meta.get("event_type") == METADATA_EVENT_TYPE
                    and payload.get("queue") == queue
                    and item_id in item_ids
                    and item_id not in found
                ):
                    found[item_id] = str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor or len(found) == len(item_ids):
                return found
