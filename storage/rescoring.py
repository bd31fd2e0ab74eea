"""Waiting review messages, for re-scoring them when a new model is promoted."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.tables import Item, ReviewMessage


def waiting_items(*, session: Session, queue: str) -> list[Item]:
    """Items whose message is not posted yet, locked so no deliverer claims them meanwhile."""
    messages = session.scalars(
        select(ReviewMessage)
        .where(ReviewMessage.queue == queue, ReviewMessage.state == "waiting")
        .with_for_update(skip_locked=True)
        .options(selectinload(ReviewMessage.item).selectinload(Item.prediction))
    ).all()
    return [m.item for m in messages]
