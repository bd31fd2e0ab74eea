"""Items, their predictions and their outbox rows, written together in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.errors import ItemNotFound
from storage.tables import ControlItem, Item, Prediction, Review, ReviewMessage


@dataclass(frozen=True)
class NewItem:
    """An item scored and routed, ready to store."""

    external_id: str
    payload: dict[str, Any]
    context: dict[str, Any]
    label: str
    confidence: float
    route: str
    audit_probability: float
    priority: float
    explanation: list[dict[str, Any]] | None = None
    warnings: list[dict[str, Any]] | None = None


def existing_items(*, session: Session, queue: str, external_ids: Sequence[str]) -> dict[str, Item]:
    """The items of ``queue`` among ``external_ids``, with their predictions: ingestion is
    idempotent on the producer's id, so these are answered as stored, not scored again."""
    if not external_ids:
        return {}
    rows = session.scalars(
        select(Item)
        .where(Item.queue == queue, Item.external_id.in_(list(external_ids)))
        .options(selectinload(Item.prediction).selectinload(Prediction.model_version))
    )
    return {row.external_id: row for row in rows}


def add_items(
    *, session: Session, queue: str, channel: str, model_version_id: int, items: Sequence[NewItem]
) -> list[Item]:
    """Store scored items; those routed to people get an outbox row in the same transaction."""
    stored = []
    for new in items:
        item = Item(
            queue=queue, external_id=new.external_id, payload=new.payload, context=new.context
        )
        item.prediction = Prediction(
            model_version_id=model_version_id,
            label=new.label,
            confidence=new.confidence,
            route=new.route,
            audit_probability=new.audit_probability,
            explanation=new.explanation,
            warnings=new.warnings or None,
        )
        if new.route != "auto":
            item.message = ReviewMessage(
                queue=queue, channel=channel, state="waiting", priority=new.priority
            )
        session.add(item)
        stored.append(item)
    session.flush()
    return stored


def get_item(*, session: Session, queue: str, external_id: str) -> Item:
    item = session.scalar(
        select(Item)
        .where(Item.queue == queue, Item.external_id == external_id)
        .options(
            selectinload(Item.prediction).selectinload(Prediction.model_version),
            selectinload(Item.message),
        )
    )
    if item is None:
        raise ItemNotFound(f"{external_id!r} in queue {queue!r}")
    return item


def get_item_by_pk(*, session: Session, item_pk: int, for_update: bool = False) -> Item:
    query = select(Item).where(Item.id == item_pk)
    if for_update:
        # Serialises votes on one item (PostgreSQL); SQLite serialises with BEGIN IMMEDIATE.
        query = query.with_for_update()
    item = session.scalar(query)
    if item is None:
        raise ItemNotFound(f"#{item_pk}")
    return item


def reviews_of(*, session: Session, item_pks: Sequence[int]) -> dict[int, list[Review]]:
    """Every review row of these items, oldest first, grouped by item."""
    grouped: dict[int, list[Review]] = {pk: [] for pk in item_pks}
    if item_pks:
        for review in session.scalars(
            select(Review).where(Review.item_id.in_(list(item_pks))).order_by(Review.id)
        ):
            grouped[review.item_id].append(review)
    return grouped


def resolved_items(
    *, session: Session, queue: str, after_pk: int = 0, limit: int = 500
) -> list[Item]:
    """A page of items with a resolved label, by primary key (for streaming exports); control
    items are the queue's own test of its reviewers, not the producer's items: left out."""
    return list(
        session.scalars(
            select(Item)
            .where(
                Item.queue == queue,
                Item.id > after_pk,
                Item.resolved_label.is_not(None),
                Item.id.not_in(select(ControlItem.item_id).where(ControlItem.queue == queue)),
            )
            .order_by(Item.id)
            .limit(limit)
            .options(selectinload(Item.prediction).selectinload(Prediction.model_version))
        )
    )
