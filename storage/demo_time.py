"""Moving a finished demo run into the past, so its digest has weeks of history to show.

The demo streams its items in seconds; ``spread_over_weeks`` then lays them out evenly over the
last ``weeks`` weeks, in the order they came in, and moves every row tied to an item (its
prediction, message, reviews, outcome) by the same amount, so answer times stay as they were.
Model versions move with the item streamed just before they were made, so a promotion lands in
the week its items did. Only for the demo's own throwaway database.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.tables import Item, ModelVersion, Outcome, Prediction, Review, ReviewMessage

_MESSAGE_TIMES = (
    "created_at",
    "posted_at",
    "resolved_at",
    "claimed_at",
    "next_attempt_at",
    "reminded_at",
    "escalated_at",
)


def _shift(row: object, names: tuple[str, ...], by: timedelta) -> None:
    for name in names:
        value = getattr(row, name)
        if value is not None:
            setattr(row, name, value + by)


def spread_over_weeks(
    *, sessions: sessionmaker[Session], queue: str, weeks: int, now: datetime
) -> None:
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    with sessions.begin() as session:
        items = list(session.scalars(select(Item).where(Item.queue == queue).order_by(Item.id)))
        if not items:
            return
        span = timedelta(weeks=weeks) - timedelta(hours=1)
        start = now - timedelta(weeks=weeks)
        old_times = [item.created_at for item in items]
        offsets = []
        for n, item in enumerate(items):
            offsets.append(start + span * (n + 1) / len(items) - item.created_at)
        by_item = dict(zip((item.id for item in items), offsets, strict=True))
        for item, offset in zip(items, offsets, strict=True):
            _shift(item, ("created_at", "resolved_at"), offset)
        ids = list(by_item)
        for prediction in session.scalars(select(Prediction).where(Prediction.item_id.in_(ids))):
            _shift(prediction, ("scored_at",), by_item[prediction.item_id])
        for message in session.scalars(select(ReviewMessage).where(ReviewMessage.item_id.in_(ids))):
            _shift(message, _MESSAGE_TIMES, by_item[message.item_id])
        for review in session.scalars(select(Review).where(Review.item_id.in_(ids))):
            _shift(review, ("created_at",), by_item[review.item_id])
        for outcome in session.scalars(select(Outcome).where(Outcome.item_id.in_(ids))):
            _shift(outcome, ("observed_at", "created_at"), by_item[outcome.item_id])
        for version in session.scalars(select(ModelVersion).where(ModelVersion.queue == queue)):
            # the item streamed last before the version was made (the first one before any)
            before = max(0, bisect_right(old_times, version.created_at) - 1)
            _shift(version, ("created_at", "promoted_at"), offsets[before])
