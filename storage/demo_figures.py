"""Figures of a finished demo run, for its summary."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.tables import Item, Prediction, Review, ReviewMessage


@dataclass(frozen=True)
class DemoFigures:
    posted: int
    votes: int
    resolved: int
    corrected: int
    auto_total: int
    auto_right: int
    reviewed_total: int
    reviewed_right: int


def demo_figures(
    *, sessions: sessionmaker[Session], queue: str, truth: dict[str, str]
) -> DemoFigures:
    with sessions.begin() as session:
        posted = session.scalar(
            select(func.count())
            .select_from(ReviewMessage)
            .where(ReviewMessage.queue == queue, ReviewMessage.ts.is_not(None))
        )
        votes = session.scalar(
            select(func.count())
            .select_from(Review)
            .join(Item, Item.id == Review.item_id)
            .where(Item.queue == queue, Review.action == "vote")
        )
        rows = session.execute(
            select(Item.external_id, Item.resolved_label, Prediction.label, Prediction.route)
            .join(Prediction, Prediction.item_id == Item.id)
            .where(Item.queue == queue)
        ).all()
    resolved = [r for r in rows if r.resolved_label is not None]
    auto = [r for r in rows if r.route == "auto"]
    reviewed = [r for r in rows if r.route in ("review", "audit")]  # control items aside
    return DemoFigures(
        posted=posted or 0,
        votes=votes or 0,
        resolved=len(resolved),
        corrected=sum(r.resolved_label != r.label for r in resolved),
        auto_total=len(auto),
        auto_right=sum(truth.get(r.external_id) == r.label for r in auto),
        reviewed_total=len(reviewed),
        reviewed_right=sum(truth.get(r.external_id) == r.label for r in reviewed),
    )
