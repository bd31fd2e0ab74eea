"""The rows a queue's digest is computed from, for a run of consecutive weeks.

Weeks are numbered from 0 (the oldest) by a ``CASE`` over their boundaries, so a count per week
is one grouped query on SQLite and PostgreSQL alike, whatever the number of items. Rows that the
digest needs one by one (answer times, audit answers, votes) are only read for the weeks that use
them, and they are bounded by what people answered, not by what came in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.reviews import undone_votes
from storage.tables import Item, ModelVersion, Prediction, Review, ReviewMessage

UNANSWERED_STATES = ("waiting", "sending", "posted")


def week_of(column: InstrumentedAttribute[Any], bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Index ``i`` of the week ``[bounds[i], bounds[i + 1])`` holding ``column``; the caller
    keeps rows within ``[bounds[0], bounds[-1])``."""
    return case(
        *((column < bound, index) for index, bound in enumerate(bounds[1:])),
        else_=-1,
    )


def _within(column: InstrumentedAttribute[Any], bounds: Sequence[datetime]) -> ColumnElement[bool]:
    return and_(column >= bounds[0], column < bounds[-1])


def routed_by_week(
    *, session: Session, queue: str, bounds: Sequence[datetime]
) -> dict[int, dict[str, int]]:
    """week → route → items scored (received) that week."""
    week = week_of(Item.created_at, bounds)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for index, route, count in session.execute(
        select(week, Prediction.route, func.count())
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Item.queue == queue, _within(Item.created_at, bounds), Prediction.route != "gold")
        .group_by(week, Prediction.route)
    ):
        counts[index][route] = count
    return dict(counts)


def answered_by_week(*, session: Session, queue: str, bounds: Sequence[datetime]) -> dict[int, int]:
    """week → items people resolved that week (a tie counts: people did answer it)."""
    week = week_of(Item.resolved_at, bounds)
    rows = session.execute(
        select(week, func.count())
        .where(Item.queue == queue, _within(Item.resolved_at, bounds))
        .group_by(week)
    ).all()
    return {index: count for index, count in rows}


def answer_times(
    *, session: Session, queue: str, bounds: Sequence[datetime]
) -> dict[int, list[float]]:
    """week → seconds from posting to resolution of the items resolved that week."""
    rows = session.execute(
        select(Item.resolved_at, ReviewMessage.posted_at)
        .join(ReviewMessage, ReviewMessage.item_id == Item.id)
        .where(
            Item.queue == queue,
            _within(Item.resolved_at, bounds),
            ReviewMessage.posted_at.is_not(None),
        )
    ).all()
    times: dict[int, list[float]] = defaultdict(list)
    for resolved_at, posted_at in rows:
        assert resolved_at is not None and posted_at is not None  # the query filters them
        times[_index(resolved_at, bounds)].append(
            max(0.0, (resolved_at - posted_at).total_seconds())
        )
    return dict(times)


@dataclass(frozen=True)
class AnsweredPrediction:
    """A reviewed or audited item people resolved: what the model said and what they said."""

    week: int
    route: str
    predicted: str
    answer: str
    sampling_probability: float


def answered_predictions(
    *, session: Session, queue: str, bounds: Sequence[datetime]
) -> list[AnsweredPrediction]:
    """Resolved items with a label, by the week they were resolved in."""
    rows = session.execute(
        select(
            Item.resolved_at,
            Prediction.route,
            Prediction.label,
            Item.resolved_label,
            Prediction.audit_probability,
        )
        .join(Prediction, Prediction.item_id == Item.id)
        .where(
            Item.queue == queue,
            _within(Item.resolved_at, bounds),
            Item.resolved_label.is_not(None),
        )
    ).all()
    return [
        AnsweredPrediction(_index(at, bounds), route, predicted, str(answer), probability)
        for at, route, predicted, answer, probability in rows
    ]


def votes_of_resolved(
    *, session: Session, queue: str, bounds: Sequence[datetime]
) -> dict[int, list[list[str]]]:
    """week → for each item resolved that week, the labels of its votes not undone."""
    rows = session.execute(
        select(Item.id, Item.resolved_at, Review.label)
        .join(Review, Review.item_id == Item.id)
        .where(
            Item.queue == queue,
            _within(Item.resolved_at, bounds),
            Review.action == "vote",
            Review.id.not_in(undone_votes()),
        )
        .order_by(Item.id, Review.id)
    ).all()
    by_item: dict[int, tuple[int, list[str]]] = {}
    for item_pk, resolved_at, label in rows:
        by_item.setdefault(item_pk, (_index(resolved_at, bounds), []))[1].append(label or "")
    grouped: dict[int, list[list[str]]] = defaultdict(list)
    for week, labels in by_item.values():
        grouped[week].append(labels)
    return dict(grouped)


def answers_by_reviewer(
    *, session: Session, queue: str, bounds: Sequence[datetime]
) -> dict[int, dict[str, int]]:
    """week → user → votes cast that week and not undone."""
    week = week_of(Review.created_at, bounds)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for index, user, count in session.execute(
        select(week, Review.user_id, func.count())
        .join(Item, Item.id == Review.item_id)
        .where(
            Item.queue == queue,
            Review.action == "vote",
            Review.id.not_in(undone_votes()),
            _within(Review.created_at, bounds),
        )
        .group_by(week, Review.user_id)
    ):
        counts[index][user] = count
    return dict(counts)


@dataclass(frozen=True)
class DecidedVersion:
    version: str
    state: str  # current | retired | rejected
    created_at: datetime
    promoted_at: datetime | None
    metrics: dict[str, Any]
    info: dict[str, Any]


def decided_versions(
    *, session: Session, queue: str, start: datetime, end: datetime
) -> list[DecidedVersion]:
    """Versions promoted (or rolled back to) in ``[start, end)``, and candidates rejected then."""
    rows = session.execute(
        select(
            ModelVersion.version,
            ModelVersion.state,
            ModelVersion.created_at,
            ModelVersion.promoted_at,
            ModelVersion.metrics,
            ModelVersion.info,
        )
        .where(
            ModelVersion.queue == queue,
            or_(
                and_(ModelVersion.promoted_at >= start, ModelVersion.promoted_at < end),
                and_(
                    ModelVersion.state == "rejected",
                    ModelVersion.created_at >= start,
                    ModelVersion.created_at < end,
                ),
            ),
        )
        .order_by(ModelVersion.created_at, ModelVersion.id)
    ).all()
    return [DecidedVersion(*row) for row in rows]


def backlog(*, session: Session, queue: str) -> tuple[int, datetime | None]:
    """(items people still have to answer, when the oldest of them came in)."""
    count, oldest = session.execute(
        select(func.count(), func.min(Item.created_at))
        .select_from(ReviewMessage)
        .join(Item, Item.id == ReviewMessage.item_id)
        .where(ReviewMessage.queue == queue, ReviewMessage.state.in_(UNANSWERED_STATES))
    ).one()
    return int(count), oldest


def has_items(*, session: Session, queue: str) -> bool:
    return session.scalar(select(Item.id).where(Item.queue == queue).limit(1)) is not None


def _index(at: datetime | None, bounds: Sequence[datetime]) -> int:
    if at is None:
        raise ValueError("a row without its time was read (the query should filter it)")
    for index, bound in enumerate(bounds[1:]):
        if at < bound:
            return index
    raise ValueError(f"{at} is after the last week ({bounds[-1]})")


def promotions(
    *, session: Session, queue: str, start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """``(version, promoted_at)`` of the versions promoted in ``[start, end)``, oldest first.

    Rollbacks are not promotions (they keep the version's first promotion date): they are the
    queue's pins (``storage.pins.pins_between``)."""
    rows = session.execute(
        select(ModelVersion.version, ModelVersion.promoted_at)
        .where(
            ModelVersion.queue == queue,
            ModelVersion.promoted_at >= start,
            ModelVersion.promoted_at < end,
        )
        .order_by(ModelVersion.promoted_at, ModelVersion.number)
    ).all()
    return [(version, at) for version, at in rows if at is not None]


def week_index(at: datetime, bounds: Sequence[datetime]) -> int:
    """Index ``i`` of the week ``[bounds[i], bounds[i + 1])`` holding ``at``."""
    return _index(at, bounds)
