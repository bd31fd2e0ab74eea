"""Small per-queue summaries for App Home and `/hitl stats`: one grouped query each."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.tables import Item, ModelVersion, Prediction, ReviewMessage


@dataclass(frozen=True)
class QueueOverview:
    queue: str
    items: int
    routed: dict[str, int]
    answered: int
    waiting: int  # not posted yet
    open: int  # posted, unanswered
    failed: int
    model_version: str | None


def queue_overviews(*, session: Session, queues: list[str]) -> dict[str, QueueOverview]:
    routed: dict[str, dict[str, int]] = defaultdict(dict)
    for queue, route, count in session.execute(
        select(Item.queue, Prediction.route, func.count())
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Item.queue.in_(queues))
        .group_by(Item.queue, Prediction.route)
    ):
        routed[queue][route] = count
    states: dict[str, dict[str, int]] = defaultdict(dict)
    for queue, state, count in session.execute(
        select(ReviewMessage.queue, ReviewMessage.state, func.count())
        .where(ReviewMessage.queue.in_(queues))
        .group_by(ReviewMessage.queue, ReviewMessage.state)
    ):
        states[queue][state] = count
    answered = dict(
        session.execute(
            select(Item.queue, func.count())
            .where(Item.queue.in_(queues), Item.resolved_at.is_not(None))
            .group_by(Item.queue)
        ).all()
    )
    versions = dict(
        session.execute(
            select(ModelVersion.queue, ModelVersion.version).where(
                ModelVersion.queue.in_(queues), ModelVersion.state == "current"
            )
        ).all()
    )
    return {
        q: QueueOverview(
            queue=q,
            items=sum(routed[q].values()),
            routed={r: routed[q].get(r, 0) for r in ("review", "audit", "auto")},
            answered=answered.get(q, 0),
            waiting=states[q].get("waiting", 0),
            open=states[q].get("posted", 0) + states[q].get("sending", 0),
            failed=states[q].get("failed", 0),
            model_version=versions.get(q),
        )
        for q in queues
    }
