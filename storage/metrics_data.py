"""Figures `/metrics` reads at scrape time, one grouped query each, for every queue at once.

Read from the database, not kept in a process, so any `hitl serve` behind a load balancer
answers the same for the state they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.digest_data import UNANSWERED_STATES
from storage.tables import Item, ReviewMessage


@dataclass(frozen=True)
class AnswerTimes:
    """Seconds from posting to answer: cumulative counts at each bound, count and sum."""

    cumulative: list[int]
    count: int
    total_seconds: float


def oldest_unanswered(*, session: Session, queues: Sequence[str]) -> dict[str, datetime]:
    """When the oldest item people still have to answer came in, for queues that have one."""
    rows = session.execute(
        select(ReviewMessage.queue, func.min(Item.created_at))
        .join(Item, Item.id == ReviewMessage.item_id)
        .where(ReviewMessage.queue.in_(list(queues)), ReviewMessage.state.in_(UNANSWERED_STATES))
        .group_by(ReviewMessage.queue)
    ).all()
    return {queue: oldest for queue, oldest in rows if oldest is not None}


def _seconds_to_answer(session: Session) -> ColumnElement[float]:
    seconds: ColumnElement[Any]
    if is_postgres(session.get_bind()):
        seconds = func.extract("epoch", Item.resolved_at - ReviewMessage.posted_at)
    else:  # SQLite stores datetimes as text: julianday() reads them, in days
        seconds = (func.julianday(Item.resolved_at) - func.julianday(ReviewMessage.posted_at)) * (
            86400.0
        )
    value = cast(seconds, Float)
    return case((value < 0, 0.0), else_=value)  # clocks of two processes may disagree a little


def answer_times(
    *, session: Session, queues: Sequence[str], bounds: Sequence[float]
) -> dict[str, AnswerTimes]:
    """Time to answer of every answered, posted item, bucketed at ``bounds`` (seconds)."""
    seconds = _seconds_to_answer(session)
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in bounds]
    rows = session.execute(
        select(ReviewMessage.queue, func.count(), func.sum(seconds), *columns)
        .join(Item, Item.id == ReviewMessage.item_id)
        .where(
            ReviewMessage.queue.in_(list(queues)),
            ReviewMessage.posted_at.is_not(None),
            Item.resolved_at.is_not(None),
        )
        .group_by(ReviewMessage.queue)
    ).all()
    found = {
        queue: AnswerTimes([int(c or 0) for c in cumulative], int(count), float(total or 0.0))
        for queue, count, total, *cumulative in rows
    }
    empty = AnswerTimes([0] * len(bounds), 0, 0.0)
    return {queue: found.get(queue, empty) for queue in queues}
