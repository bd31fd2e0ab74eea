"""Sending the weekly digest: the figures as a message, the chart in its thread.

The chart goes through Slack's files upload v2 flow (``files.getUploadURLExternal``, the upload,
``files.completeUploadExternal`` with ``channel_id`` and ``thread_ts``), which ``slack_sdk``'s
``files_upload_v2`` performs. A digest is a handful of calls a week, so a 429 is waited out
(Slack's Retry-After, a few times) rather than queued like review messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.config import QueueConfig
from bot.context import AppContext
from bot.digest.blocks import digest_message
from bot.digest.chart import chart_alt_text, digest_chart
from bot.digest.figures import DigestFigures, digest_figures
from bot.digest.names import display_names
from bot.digest.plain_text import digest_plain_text
from bot.errors import HitlError, slack_error

logger = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3


@dataclass(frozen=True)
class SentDigest:
    queue: str
    #: Where each copy went: (conversation id, ts of the digest message).
    posts: list[tuple[str, str]]
    #: What went wrong, one line per destination ("U0LEAD: user_not_found"); the others
    #: still got their copy.
    problems: list[str]


def figures_now(ctx: AppContext, queue: QueueConfig, now: datetime | None = None) -> DigestFigures:
    with ctx.sessions.begin() as session:
        return digest_figures(session=session, queue=queue, now=now or datetime.now(UTC))


def digest_queues(ctx: AppContext, only: str | None = None) -> list[QueueConfig]:
    """The queue asked for (even without a digest destination, for a dry run), or every queue
    that has a digest configured."""
    if only is not None:
        return [ctx.config.queue(only)]
    return [q for q in ctx.config.queues.values() if q.digest is not None]


def send_digest(ctx: AppContext, queue: QueueConfig, *, now: datetime | None = None) -> SentDigest:
    """Post the digest of ``queue`` to its channel, or as a direct message to each of its users."""
    if queue.digest is None:
        raise HitlError(
            f"queue {queue.name!r} has no digest destination: set digest = {{ channel = ... }}"
        )
    figures = figures_now(ctx, queue, now)
    client = _patient(ctx.client)
    names = display_names(client, _people(figures))
    text, blocks = digest_message(figures, names)
    chart = digest_chart(figures.history, queue=queue.name, marks=figures.marks)
    destinations = [queue.digest.channel] if queue.digest.channel else []
    destinations += queue.digest.users
    posts, problems = [], []
    for destination in destinations:
        # One failing destination (a user who left, a channel the bot was removed from) must
        # not keep the digest from the others.
        try:
            conversation = destination
            if destination in queue.digest.users:
                conversation = client.conversations_open(users=destination)["channel"]["id"]
            ts = client.chat_postMessage(channel=conversation, text=text, blocks=blocks)["ts"]
        except SlackClientError as exc:
            problems.append(f"{destination}: digest not posted ({_slack_error(exc)})")
            continue
        posts.append((conversation, ts))
        try:
            client.files_upload_v2(
                channel=conversation,
                thread_ts=ts,
                file=chart,
                filename=chart_filename(figures),
                title=f"{queue.name}: accuracy and review volume, last 12 weeks",
                alt_txt=chart_alt_text(figures.history, figures.marks, queue=queue.name),
            )
        except SlackClientError as exc:
            problems.append(f"{destination}: chart not uploaded ({_slack_error(exc)})")
    for problem in problems:
        logger.error("digest of %s: %s", queue.name, problem)
    logger.info("digest of %s sent to %s", queue.name, ", ".join(c for c, _ in posts) or "nobody")
    return SentDigest(queue=queue.name, posts=posts, problems=problems)


def dry_run(
    ctx: AppContext, queue: QueueConfig, *, chart_dir: Path, now: datetime | None = None
) -> tuple[str, Path]:
    """The digest as terminal text, and the chart written to ``chart_dir``; nothing is posted."""
    figures = figures_now(ctx, queue, now)
    path = chart_dir / chart_filename(figures)
    path.write_bytes(digest_chart(figures.history, queue=queue.name, marks=figures.marks))
    return digest_plain_text(figures), path


def _people(figures: DigestFigures) -> list[str]:
    """The user ids the digest names."""
    return [*figures.this_week.answers_by_reviewer, *figures.last_week.answers_by_reviewer]


def chart_filename(figures: DigestFigures) -> str:
    return f"digest-{figures.queue}-{figures.now:%Y-%m-%d}.png"


def _slack_error(exc: SlackClientError) -> str:
    return slack_error(exc) if isinstance(exc, SlackApiError) else str(exc)


def _patient(client: WebClient) -> WebClient:
    """The same client, waiting out 429s (Retry-After) a few times."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )
