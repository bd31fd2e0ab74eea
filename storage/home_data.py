"""What App Home and `/hitl next` show one person: a fixed number of grouped queries.

App Home is rebuilt each time someone opens it, so nothing here costs a query per item or per
queue: the items waiting for the person are one query (their total comes with them, as a window
count), their answers one query (counts per queue and the latest few, by window functions), and
the per-queue figures one query each (backlog, current versions; the trust figures come from
``storage.trust_data``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session

from storage.reviews import undone_votes
from storage.tables import Item, ModelVersion, Prediction, Review, ReviewMessage


@dataclass(frozen=True)
class WaitingItem:
    """A posted, unresolved review message that a person has not voted on yet."""

    queue: str
    item_pk: int
    item_id: str
    channel: str
    ts: str
    posted_at: datetime | None
    predicted: str
    confidence: float
    route: str
    votes: int  # active votes so far (matters when votes_required > 1)


@dataclass(frozen=True)
class Waiting:
    items: list[WaitingItem]  # oldest first, at most the limit asked for
    total: int  # all of them, shown or not


@dataclass(frozen=True)
class RecentAnswer:
    queue: str
    item_id: str
    label: str
    at: datetime


@dataclass(frozen=True)
class AnswerSummary:
    per_queue: dict[str, int] = field(default_factory=dict)
    recent: list[RecentAnswer] = field(default_factory=list)  # newest first

    @property
    def total(self) -> int:
        return sum(self.per_queue.values())


@dataclass(frozen=True)
class QueueBacklog:
    queue: str
    waiting: int  # not posted yet
    open: int  # in the channel (or being posted), unanswered
    failed: int  # Slack refused it; `hitl clock` retries
    model_version: str | None


def waiting_for(
    *,
    session: Session,
    user_id: str,
    queues: Sequence[str],
    limit: int,
    control_first: bool = False,
) -> Waiting:
    """Posted, unresolved items of ``queues`` that ``user_id`` has no standing vote on, oldest
    posted first; the caller passes only the queues the person may answer. ``control_first``:
    open control items before the others (`/hitl next` for someone behind on control items)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if not queues:
        return Waiting(items=[], total=0)
    votes = (
        select(func.count())
        .where(Review.item_id == Item.id, Review.action == "vote", Review.id.not_in(undone_votes()))
        .correlate(Item)
        .scalar_subquery()
    )
    mine = exists().where(
        Review.item_id == Item.id,
        Review.user_id == user_id,
        Review.action == "vote",
        Review.id.not_in(undone_votes(user_id)),
    )
    rows = session.execute(
        select(
            ReviewMessage.queue,
            Item.id,
            func.coalesce(Item.display_id, Item.external_id),  # the id the card shows
            ReviewMessage.channel,
            ReviewMessage.ts,
            ReviewMessage.posted_at,
            Prediction.label,
            Prediction.confidence,
            Prediction.route,
            votes,
            func.count().over(),
        )
        .join(Item, Item.id == ReviewMessage.item_id)
        .join(Prediction, Prediction.item_id == Item.id)
        .where(
            ReviewMessage.queue.in_(list(queues)),
            ReviewMessage.state == "posted",
            ReviewMessage.ts.is_not(None),
            Item.resolved_at.is_(None),
            ~mine,
        )
        .order_by(
            *([case((Prediction.route == "gold", 0), else_=1)] if control_first else []),
            ReviewMessage.posted_at,
            ReviewMessage.id,
        )
        .limit(limit)
    ).all()
    items = [
        WaitingItem(q, pk, ext, ch, str(ts), at, label, float(conf), route, int(n))
        for q, pk, ext, ch, ts, at, label, conf, route, n, _ in rows
    ]
    return Waiting(items=items, total=int(rows[0][-1]) if rows else 0)


def answers_of(
    *, session: Session, user_id: str, queues: Sequence[str], since: datetime, recent: int = 5
) -> AnswerSummary:
    """``user_id``'s standing votes since ``since``: how many per queue, and the latest few.

    One query: each row carries its queue's count and its rank; only the latest ``recent``
    rows and one row per queue (for the count) come back.
    """
    if not queues:
        return AnswerSummary()
    ranked = (
        select(
            Item.queue,
            func.coalesce(Item.display_id, Item.external_id).label("external_id"),
            Review.label,
            Review.created_at,
            func.count().over(partition_by=Item.queue).label("n"),
            func.row_number()
            .over(order_by=(Review.created_at.desc(), Review.id.desc()))
            .label("rank"),
            func.row_number().over(partition_by=Item.queue, order_by=Review.id).label("in_queue"),
        )
        .join(Item, Item.id == Review.item_id)
        .where(
            Review.user_id == user_id,
            Review.action == "vote",
            Review.created_at >= since,
            Item.queue.in_(list(queues)),
            Review.id.not_in(undone_votes(user_id)),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked).where(or_(ranked.c.rank <= recent, ranked.c.in_queue == 1))
    ).all()
    per_queue = {row.queue: int(row.n) for row in rows}
    latest = sorted((row for row in rows if row.rank <= recent), key=lambda row: row.rank)
    return AnswerSummary(
        per_queue=per_queue,
        recent=[RecentAnswer(r.queue, r.external_id, r.label or "", r.created_at) for r in latest],
    )


def queue_backlogs(*, session: Session, queues: Sequence[str]) -> dict[str, QueueBacklog]:
    """Messages waiting, open and failed per queue, and each queue's current model version."""
    states: dict[str, dict[str, int]] = defaultdict(dict)
    for queue, state, count in session.execute(
        select(ReviewMessage.queue, ReviewMessage.state, func.count())
        .where(
            ReviewMessage.queue.in_(list(queues)),
            ReviewMessage.state.in_(("waiting", "sending", "posted", "failed")),
        )
        .group_by(ReviewMessage.queue, ReviewMessage.state)
    ):
        states[queue][state] = count
    versions = dict(
        session.execute(
            select(ModelVersion.queue, ModelVersion.version).where(
                ModelVersion.queue.in_(list(queues)), ModelVersion.state == "current"
            )
        ).all()
    )
    return {
        q: QueueBacklog(
            queue=q,
            waiting=states[q].get("waiting", 0),
            open=states[q].get("posted", 0) + states[q].get("sending", 0),
            failed=states[q].get("failed", 0),
            model_version=versions.get(q),
        )
        for q in queues
    }
