"""Rendering a stored item as a Slack message: storage rows in, ``bot.review.blocks`` output out.

The card is masked here (``bot.masking``) as far as its texts go as they are: the item's id, the
reply and the customer's message. Field values are masked by the block builders, after they are
formatted (``bot.review.card_sections``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.config import QueueConfig
from bot.masking import Masking
from bot.review.blocks import Resolution, ReviewCard, Vote, answered_message, review_message
from bot.review.card_view import CUSTOMER_MESSAGE, CardView, InputWarning, WhyItem
from bot.review.item_actions import item_link
from storage.reviews import ActiveVote
from storage.tables import Item

METADATA_EVENT_TYPE = "hitl_review_item"


def masking_of(queue: QueueConfig) -> Masking:
    return Masking.of(queue.mask_fields, queue.mask_patterns)


def view_of(queue: QueueConfig) -> CardView:
    """The queue's config keys about the card, as the block builders take them."""
    return CardView(
        fields=queue.fields,
        hide=frozenset(queue.hide_fields),
        formats=dict(queue.format),
        link=queue.link,
        masking=masking_of(queue),
    )


def why_items(explanation: list[dict[str, Any]] | None) -> tuple[WhyItem, ...]:
    return tuple(
        WhyItem(str(c["feature"]), c.get("value"), float(c["contribution"]))
        for c in explanation or ()
    )


def input_warnings(warnings: list[dict[str, Any]] | None) -> tuple[InputWarning, ...]:
    return tuple(
        InputWarning(str(w["code"]), tuple(str(f) for f in w.get("fields") or ()))
        for w in warnings or ()
    )


def card_for(item: Item, queue: QueueConfig) -> ReviewCard:
    """A control item (route ``gold``) becomes an audit card showing the id of a real case: in
    Slack nothing tells it from an audit. Audit cards are blind under ``blind_audit``."""
    prediction = item.prediction
    assert prediction is not None, "only scored items are shown"
    payload = item.payload
    context = dict(item.context)
    view = view_of(queue)
    masking = view.masking
    text = payload.get("text")
    if CUSTOMER_MESSAGE in context and isinstance(context[CUSTOMER_MESSAGE], str):
        context[CUSTOMER_MESSAGE] = masking.text(context[CUSTOMER_MESSAGE])
    route = "audit" if prediction.route == "gold" else prediction.route
    return ReviewCard(
        queue=queue.name,
        kind=queue.kind,
        item_pk=item.id,
        item_id=masking.text(item.shown_id),
        labels=queue.labels,
        predicted=prediction.label,
        confidence=prediction.confidence,
        route=route,
        blind=queue.blind_audit and route == "audit",
        model_version=prediction.model_version.version,
        features=payload.get("features") or {},
        context=context,
        text=masking.text(text) if isinstance(text, str) else None,
        explanation=why_items(prediction.explanation),
        warnings=input_warnings(prediction.warnings),
        view=view,
        link_url=item_link(queue.link, item_id=item.shown_id, context=dict(item.context)),
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
