"""The rows trust in answers is computed from, as grouped counts: answers whose truth is known
(control items and outcomes), audit answers by reviewer, and the mix of automatic decisions.

Grouped in SQL (a handful of rows per reviewer and label, however many items), so App Home,
`/hitl stats` and the digest can afford them. Votes taken back by an undo never count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from storage.digest_data import week_of
from storage.reviews import undone_votes
from storage.tables import ControlItem, Item, Outcome, Prediction, Review

GOLD, AUDIT = "gold", "audit"


@dataclass(frozen=True)
class CheckedCount:
    """``count`` votes ``answer`` by ``user`` on items whose truth is known to be ``truth``.

    ``source``: ``control`` or ``outcome``; ``route``: the item's route (a control item's is
    ``gold``), so callers can tell answers given the way audits are answered from the others.
    """

    queue: str
    user: str
    truth: str
    answer: str
    source: str
    route: str
    count: int


@dataclass(frozen=True)
class AuditCount:
    """``count`` votes ``answer`` by ``user`` on audit items predicted ``predicted`` and drawn
    with ``probability``; ``week`` indexes the week the item was resolved in (0 without weeks)."""

    queue: str
    week: int
    user: str
    predicted: str
    answer: str
    probability: float
    count: int


def _active() -> ColumnElement[bool]:
    return and_(Review.action == "vote", Review.id.not_in(undone_votes()))


def checked_counts(*, session: Session, queues: Sequence[str]) -> list[CheckedCount]:
    """Votes on control items and on items with an outcome, grouped, for ``queues``."""
    if not queues:
        return []
    names = list(queues)
    control = session.execute(
        select(Item.queue, Review.user_id, ControlItem.label, Review.label, func.count())
        .join(Item, Item.id == Review.item_id)
        .join(ControlItem, ControlItem.item_id == Item.id)
        .where(Item.queue.in_(names), _active())
        .group_by(Item.queue, Review.user_id, ControlItem.label, Review.label)
    ).all()
    outcome = session.execute(
        select(
            Item.queue, Review.user_id, Outcome.label, Review.label, Prediction.route, func.count()
        )
        .join(Item, Item.id == Review.item_id)
        .join(Outcome, Outcome.item_id == Item.id)
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Item.queue.in_(names), _active(), Prediction.route != GOLD)
        .group_by(Item.queue, Review.user_id, Outcome.label, Review.label, Prediction.route)
    ).all()
    return [
        CheckedCount(q, user, truth, answer or "", "control", GOLD, int(n))
        for q, user, truth, answer, n in control
    ] + [
        CheckedCount(q, user, truth, answer or "", "outcome", route, int(n))
        for q, user, truth, answer, route, n in outcome
    ]


def audit_counts(
    *, session: Session, queues: Sequence[str], bounds: Sequence[datetime] | None = None
) -> list[AuditCount]:
    """Votes on resolved audit items, grouped by reviewer, predicted label, answer and sampling
    probability; with ``bounds``, only items resolved within them, by week."""
    if not queues:
        return []
    base = (
        Item.queue,
        Review.user_id,
        Prediction.label,
        Review.label,
        Prediction.audit_probability,
    )
    weeks = [week_of(Item.resolved_at, bounds)] if bounds else []
    query = (
        select(*base, *weeks, func.count())
        .join(Item, Item.id == Review.item_id)
        .join(Prediction, Prediction.item_id == Item.id)
        .where(
            Item.queue.in_(list(queues)),
            _active(),
            Prediction.route == AUDIT,
            Item.resolved_at.is_not(None),
        )
        .group_by(*base, *weeks)
    )
    if bounds:
        query = query.where(Item.resolved_at >= bounds[0], Item.resolved_at < bounds[-1])
    result = []
    for row in session.execute(query).all():
        result.append(
            AuditCount(
                queue=str(row[0]),
                week=int(row[5]) if weeks else 0,
                user=str(row[1]),
                predicted=str(row[2]),
                answer=str(row[3] or ""),
                probability=float(row[4]),
                count=int(row[-1]),
            )
        )
    return result


def automatic_mix(
    *, session: Session, queue: str, start: datetime | None = None, end: datetime | None = None
) -> dict[str, int]:
    """Confident predictions (automatic or audited) by predicted label, scored in
    ``[start, end)``: the share of each stratum among the automatic decisions."""
    query = (
        select(Prediction.label, func.count())
        .join(Item, Item.id == Prediction.item_id)
        .where(Item.queue == queue, Prediction.route.in_(("auto", AUDIT)))
        .group_by(Prediction.label)
    )
    if start is not None:
        query = query.where(Item.created_at >= start)
    if end is not None:
        query = query.where(Item.created_at < end)
    return {label: int(n) for label, n in session.execute(query).all()}


def automatic_mix_by_week(
    *, session: Session, queue: str, bounds: Sequence[datetime]
) -> dict[int, dict[str, int]]:
    """week → predicted label → confident predictions scored that week (one grouped query)."""
    week = week_of(Item.created_at, bounds)
    mixes: dict[int, dict[str, int]] = {}
    for index, label, count in session.execute(
        select(week, Prediction.label, func.count())
        .join(Item, Item.id == Prediction.item_id)
        .where(
            Item.queue == queue,
            Prediction.route.in_(("auto", AUDIT)),
            Item.created_at >= bounds[0],
            Item.created_at < bounds[-1],
        )
        .group_by(week, Prediction.label)
    ):
        mixes.setdefault(int(index), {})[str(label)] = int(count)
    return mixes


def automatic_mixes(*, session: Session, queues: Sequence[str]) -> dict[str, dict[str, int]]:
    """``automatic_mix`` of several queues in one grouped query (App Home)."""
    mixes: dict[str, dict[str, int]] = {}
    if not queues:
        return mixes
    for queue, label, count in session.execute(
        select(Item.queue, Prediction.label, func.count())
        .join(Item, Item.id == Prediction.item_id)
        .where(Item.queue.in_(list(queues)), Prediction.route.in_(("auto", AUDIT)))
        .group_by(Item.queue, Prediction.label)
    ):
        mixes.setdefault(str(queue), {})[str(label)] = int(count)
    return mixes


def audit_item_votes(*, session: Session, queue: str) -> dict[int, list[tuple[str, str]]]:
    """item → [(user, answer)] of the resolved audit items with more than one standing vote:
    how reviewers disagree on them says how often each errs (``models.dawid_skene``)."""
    rows = session.execute(
        select(Item.id, Review.user_id, Review.label)
        .join(Item, Item.id == Review.item_id)
        .join(Prediction, Prediction.item_id == Item.id)
        .where(
            Item.queue == queue,
            _active(),
            Prediction.route == AUDIT,
            Item.resolved_at.is_not(None),
        )
        .order_by(Item.id, Review.id)
    ).all()
    votes: dict[int, list[tuple[str, str]]] = {}
    for pk, user, label in rows:
        votes.setdefault(int(pk), []).append((str(user), str(label or "")))
    return {pk: v for pk, v in votes.items() if len(v) > 1}
