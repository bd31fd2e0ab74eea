"""The rows accuracy figures are computed from: audit answers, votes, control items."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.reviews import undone_votes
from storage.tables import ControlItem, Item, Prediction, Review


def audit_answers(*, session: Session, queue: str) -> list[tuple[str, str, float]]:
    """(predicted, people's label, sampling probability) of every resolved audit item."""
    rows = session.execute(
        select(Prediction.label, Item.resolved_label, Prediction.audit_probability)
        .join(Item, Item.id == Prediction.item_id)
        .where(Item.queue == queue, Prediction.route == "audit", Item.resolved_label.is_not(None))
    ).all()
    return [(str(r[0]), str(r[1]), float(r[2])) for r in rows]


def active_votes_by_item(*, session: Session, queue: str) -> dict[str, list[tuple[str, str]]]:
    """item id → [(user, label)] of the votes not undone, in one query."""
    rows = session.execute(
        select(Item.external_id, Review.user_id, Review.label)
        .join(Item, Item.id == Review.item_id)
        .where(Item.queue == queue, Review.action == "vote", Review.id.not_in(undone_votes()))
        .order_by(Review.id)
    ).all()
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item_id, user, label in rows:
        grouped[item_id].append((user, label or ""))
    return dict(grouped)


def control_item_count(*, session: Session, queue: str) -> int:
    """Control items posted (or waiting to be) in the queue."""
    return int(
        session.scalar(
            select(func.count()).select_from(ControlItem).where(ControlItem.queue == queue)
        )
        or 0
    )
