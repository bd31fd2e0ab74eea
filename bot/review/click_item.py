"""Which item a click may count for: the item of the message it was made on, nothing else.

A button's value names an item (or a vote, for Undo), and Slack echoes it back as it was
given; the value alone is not proof of where the click happened. A click counts only when:

- the item is the one of the message clicked: the channel message whose ts its outbox row
  holds (or, in the moment before the deliverer records that ts, whose metadata Slack returns
  for that ts), or a private card `/hitl next` showed to this very person;
- the item is open to people: routed to review or audit and not withdrawn;
- the person may answer its queue (see ``ReviewerDirectory.may_answer``).

Anything else is refused with a notice for the clicker, and nothing is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackClientError

from bot.config import QueueConfig
from bot.context import AppContext
from bot.errors import HitlError, UnknownQueue
from bot.review.cards import METADATA_EVENT_TYPE
from bot.review.replies import not_a_reviewer_text
from bot.review.reviewers import ReviewerDirectory
from storage.errors import ItemNotFound
from storage.items import get_item_by_pk
from storage.private_cards import was_shown
from storage.tables import Review

logger = logging.getLogger(__name__)

OPEN_ROUTES = ("review", "audit", "gold")


class ClickRefused(HitlError):
    """A click that does not count; the message is shown to the clicker as it is."""


NOT_THIS_MESSAGE = "This button does not belong to the message it is on, so nothing was recorded."
NOT_OPEN = "This item is not waiting for people's answers, so nothing was recorded."
NOT_SHOWN = "This card was not shown to you by `/hitl next`, so nothing was recorded."
CANNOT_CHECK = "Slack could not confirm which message this is; nothing was recorded. Try again."


@dataclass(frozen=True)
class Clicked:
    """Where a click was made: a channel message (``channel``, ``ts``) or a private card."""

    user: str
    channel: str | None = None
    ts: str | None = None
    private: bool = False


@dataclass(frozen=True)
class Target:
    item_pk: int
    queue: QueueConfig


def item_of_vote(ctx: AppContext, review_id: int) -> int:
    """The item a vote (the value of an Undo button) was given on."""
    with ctx.sessions.begin() as session:
        review = session.get(Review, review_id)
        if review is None or review.action != "vote":
            raise ClickRefused(NOT_THIS_MESSAGE)
        return review.item_id


def check_click(
    ctx: AppContext, directory: ReviewerDirectory, *, item_pk: int, clicked: Clicked
) -> Target:
    """The item and queue a click counts for; ``ClickRefused`` when it does not count."""
    # Read what is needed and let the transaction go before any Slack call: on SQLite every
    # transaction holds the database's write lock.
    with ctx.sessions.begin() as session:
        try:
            item = get_item_by_pk(session=session, item_pk=item_pk)
        except ItemNotFound:
            raise ClickRefused(NOT_THIS_MESSAGE) from None
        message, prediction = item.message, item.prediction
        if (
            message is None
            or prediction is None
            or prediction.route not in OPEN_ROUTES
            or message.state == "withdrawn"
        ):
            raise ClickRefused(NOT_OPEN)
        queue_name, item_id = item.queue, item.shown_id  # as its metadata says
        posted_at = (message.channel, message.ts) if message.ts is not None else None
        shown = clicked.private and was_shown(
            session=session, user_id=clicked.user, item_pk=item_pk
        )
    try:
        queue = ctx.config.queue(queue_name)
    except UnknownQueue:  # a queue taken out of the config since
        raise ClickRefused(NOT_OPEN) from None
    if clicked.private:
        # Who may answer first: the person who is told "not a reviewer" learns what to ask for.
        if not directory.may_answer(queue, clicked.user, seen_in_channel=False):
            raise ClickRefused(not_a_reviewer_text(queue.name))
        if not shown:
            raise ClickRefused(NOT_SHOWN)
        return Target(item_pk=item_pk, queue=queue)
    if clicked.channel is None or clicked.ts is None:
        raise ClickRefused(NOT_THIS_MESSAGE)
    if posted_at is not None:
        if posted_at != (clicked.channel, clicked.ts):
            raise ClickRefused(NOT_THIS_MESSAGE)
    elif not _slack_says_it_is(ctx, clicked.channel, clicked.ts, queue=queue_name, item_id=item_id):
        raise ClickRefused(NOT_THIS_MESSAGE)
    seen_in_channel = clicked.channel == queue.channel
    if not directory.may_answer(queue, clicked.user, seen_in_channel=seen_in_channel):
        raise ClickRefused(not_a_reviewer_text(queue.name))
    return Target(item_pk=item_pk, queue=queue)


def _slack_says_it_is(ctx: AppContext, channel: str, ts: str, *, queue: str, item_id: str) -> bool:
    """Whether the message at (channel, ts) carries this item's metadata: for a click in the
    moment between the post and the deliverer recording its ts (or while a post of unknown
    outcome waits to be looked for)."""
    try:
        page = ctx.client.conversations_history(
            channel=channel,
            latest=ts,
            oldest=ts,
            inclusive=True,
            limit=1,
            include_all_metadata=True,
        )
    except (SlackClientError, OSError) as exc:
        logger.warning("could not read message %s in %s: %r", ts, channel, exc)
        raise ClickRefused(CANNOT_CHECK) from None
    for message in page.get("messages") or []:
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if (
            message.get("ts") == ts
            and meta.get("event_type") == METADATA_EVENT_TYPE
            and payload.get("queue") == queue
            and payload.get("item_id") == item_id
        ):
            return True
    return False
