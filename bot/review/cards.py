"""Rendering a stored item as a Slack message: storage rows in, ``bot.review.blocks`` output out."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.config import QueueConfig
from bot.review.blocks import Resolution, ReviewCard, Vote, answered_message, review_message
from storage.reviews import ActiveVote
from storage.tables import Item

METADATA_EVENT_TYPE = "hitl_review_item"


def card_for(item: Item, queue: QueueConfig) -> ReviewCard:
    """A control item (route ``gold``) becomes an audit card showing the id of a real case: in
    Slack nothing tells it from an audit. Audit cards are blind under ``blind_audit``."""
    prediction = item.prediction
    assert prediction is not None, "only scored items are shown"
    payload = item.payload
    context = dict(item.context)
    route = "audit" if prediction.route == "gold" else prediction.route
    return ReviewCard(
        queue=queue.name,
        kind=queue.kind,
        item_pk=item.id,
        item_id=item.shown_id,
        labels=queue.labels,
        predicted=prediction.label,
        confidence=prediction.confidence,
        route=route,
        blind=queue.blind_audit and route == "audit",
        model_version=prediction.model_version.version,
        features=payload.get("features") or {},
        context=context,
        text=payload.get("text"),  # the customer's message, if any, is in the context
    )


def metadata_for(item: Item) -> dict[str, object]:
    """Message metadata: lets a restarted deliverer find what it already posted."""
    return {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"queue": item.queue, "item_id": item.shown_id},
    }


def card_votes(votes: tuple[ActiveVote, ...]) -> tuple[Vote, ...]:
    """Stored votes as the block builders take them."""
    return tuple(Vote(v.user_id, v.label, v.at, v.review_id) for v in votes)


def render(
    item: Item,
    queue: QueueConfig,
    votes: tuple[ActiveVote, ...],
    *,
    now: datetime,
) -> tuple[str, list[dict]]:
    """The message as it should look now: open with buttons, or answered with Undo."""
    card = card_for(item, queue)
    if item.resolved_at is None:
        return review_message(card, votes=card_votes(votes), votes_required=queue.votes_required)
    resolution = Resolution(card_votes(votes), item.resolved_label, queue.votes_required)
    return answered_message(
        card, resolution, now=now, undo_window=timedelta(minutes=queue.undo_minutes)
    )
