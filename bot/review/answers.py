"""What happens when someone answers: store the vote, then show the message as it now stands.

Listeners call these after ``ack()``; nothing here knows about Bolt.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.config import QueueConfig
from bot.context import AppContext
from bot.review.blocks import ReviewCard
from bot.review.cards import card_for, render
from storage.items import get_item_by_pk
from storage.reviews import (
    ActiveVote,
    UndoResult,
    VoteOutcome,
    active_votes,
    record_vote,
    undo_vote,
)
from storage.tables import Item, Review, utcnow

logger = logging.getLogger(__name__)


def item_card(ctx: AppContext, item_pk: int) -> ReviewCard:
    """The item as a card shows it (formatted, masked, hidden fields left out): for the note
    modal's title and the "Show all fields" modal."""
    with ctx.sessions.begin() as session:
        item = get_item_by_pk(session=session, item_pk=item_pk)
        return card_for(item, ctx.config.queue(item.queue))


def vote(
    ctx: AppContext,
    *,
    queue: QueueConfig,
    item_pk: int,
    label_index: int,
    user_id: str,
    request_key: str,
) -> VoteOutcome:
    if not 0 <= label_index < len(queue.labels):
        raise ValueError(f"label index {label_index} out of range for queue {queue.name!r}")
    with ctx.sessions.begin() as session:
        return record_vote(
            session=session,
            item_pk=item_pk,
            user_id=user_id,
            label=queue.labels[label_index],
            request_key=request_key,
            votes_required=queue.votes_required,
        )


def undo(
    ctx: AppContext, *, review_id: int, user_id: str, request_key: str
) -> tuple[UndoResult, int]:
    """What became of the undo, and the pk of the item the vote was on (to show it again)."""
    with ctx.sessions.begin() as session:
        vote_row = session.get(Review, review_id)
        if vote_row is None:
            raise LookupError(f"no vote #{review_id}")
        item = get_item_by_pk(session=session, item_pk=vote_row.item_id)
        queue = ctx.config.queue(item.queue)
        result, _ = undo_vote(
            session=session,
            review_id=review_id,
            user_id=user_id,
            request_key=request_key,
            window=timedelta(minutes=queue.undo_minutes),
        )
        return result, item.id


def current_votes(ctx: AppContext, item_pk: int) -> tuple[Item, tuple[ActiveVote, ...]]:
    with ctx.sessions.begin() as session:
        item = get_item_by_pk(session=session, item_pk=item_pk)
        assert item.prediction is not None and item.message is not None
        _ = item.prediction.model_version  # load before the session closes
        return item, active_votes(session=session, item_pk=item_pk)


def render_current(ctx: AppContext, item_pk: int) -> tuple[str, list[dict]]:
    """The item's message as it should look now (fallback text, blocks), from the database: for
    copies of it outside the channel, such as the ephemeral one `/hitl next` shows."""
    item, votes = current_votes(ctx, item_pk)
    return render(item, ctx.config.queue(item.queue), votes, now=utcnow())


def refresh_message(
    ctx: AppContext, item_pk: int, *, where: tuple[str, str] | None = None, attempts: int = 3
) -> None:
    """Re-render the item's message from the database: whatever order concurrent clicks
    finish in, the last update shows the stored state.

    ``where`` is the (channel, ts) the click came from: a click can arrive before the
    deliverer has recorded the ts of the message it just posted.
    """
    for attempt in range(attempts):
        item, votes = current_votes(ctx, item_pk)
        message = item.message
        assert message is not None  # current_votes checked it
        if where is not None:
            channel, ts = where
        elif message.ts is not None:
            channel, ts = message.channel, message.ts
        else:  # not posted yet: no channel message to update
            return
        text, blocks = render(item, ctx.config.queue(item.queue), votes, now=utcnow())
        try:
            ctx.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            return
        except SlackApiError as exc:
            if exc.response.status_code == 429 and attempt + 1 < attempts:
                time.sleep(float(exc.response.headers.get("Retry-After", 1)))
                continue
            logger.exception("chat.update failed for item %s", item_pk)
            return
