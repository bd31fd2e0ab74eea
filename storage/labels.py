"""What people and outcomes said about a queue's items: the raw material of a retrain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.tables import Item, Outcome, Prediction, Review


@dataclass(frozen=True)
class ResolvedItem:
    item_id: str
    payload: dict[str, Any]
    label: str
    sampling_probability: float
    resolved_at: datetime


def resolved_items(*, session: Session, queue: str) -> list[ResolvedItem]:
    """Items people resolved to a label (ties excluded), with their sampling probability."""
    rows = session.execute(
        select(
            Item.external_id,
            Item.payload,
            Item.resolved_label,
            Item.resolved_at,
            Prediction.route,
            Prediction.audit_probability,
        )
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Item.queue == queue, Item.resolved_label.is_not(None))
        .order_by(Item.resolved_at, Item.id)
    ).all()
    return [
        ResolvedItem(
            item_id=r.external_id,
            payload=r.payload,
            label=r.resolved_label,
            # A review item was certain to be shown; an audit item with its sampling chance.
            sampling_probability=1.0 if r.route == "review" else r.audit_probability,
            resolved_at=r.resolved_at,
        )
        for r in rows
    ]


def outcomes(*, session: Session, queue: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(item id → outcome label, item id → payload) for the queue's outcomes."""
    rows = session.execute(
        select(Item.external_id, Item.payload, Outcome.label)
        .join(Outcome, Outcome.item_id == Item.id)
        .where(Item.queue == queue)
    ).all()
    return {r.external_id: r.label for r in rows}, {r.external_id: r.payload for r in rows}


def answers_since(*, session: Session, queue: str, since: datetime | None) -> int:
    """Votes recorded on the queue's items after ``since`` (all when None)."""
    query = (
        select(func.count())
        .select_from(Review)
        .join(Item, Item.id == Review.item_id)
        .where(Item.queue == queue, Review.action == "vote")
    )
    if since is not None:
        query = query.where(Review.created_at > since)
    return int(session.scalar(query) or 0)
