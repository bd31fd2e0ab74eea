"""Small per-queue summaries for `/hitl stats`, metrics and the demo: one grouped query each;
the message backlog and current version are App Home's ``queue_backlogs``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.home_data import queue_backlogs
from storage.tables import Item, Prediction


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
    answered = dict(
        session.execute(
            select(Item.queue, func.count())
            .where(Item.queue.in_(queues), Item.resolved_at.is_not(None))
            .group_by(Item.queue)
        ).all()
    )
    backlogs = queue_backlogs(session=session, queues=queues)
    return {
        q: QueueOverview(
            queue=q,
            # A control item is not a producer's item: it is counted apart (route ``gold``).
            items=sum(n for route, n in routed[q].items() if route != "gold"),
            routed={r: routed[q].get(r, 0) for r in ("review", "audit", "auto")},
            answered=answered.get(q, 0),
            waiting=backlogs[q].waiting,
            open=backlogs[q].open,
            failed=backlogs[q].failed,
            model_version=backlogs[q].model_version,
        )
        for q in queues
    }
