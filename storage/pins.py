"""Rollback pins: a queue rolled back stays on that version until someone unpins it.

Every retrain path reads ``active_pin`` first; the rows are kept once unpinned, so the digest and
App Home can say who rolled back to what, and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.registry import rollback_to
from storage.tables import QueuePin, utcnow


def active_pin(*, session: Session, queue: str) -> QueuePin | None:
    return session.scalar(
        select(QueuePin)
        .where(QueuePin.queue == queue, QueuePin.unpinned_at.is_(None))
        .order_by(QueuePin.id.desc())
        .limit(1)
    )


def pin(*, session: Session, queue: str, version: str, by: str) -> QueuePin:
    """Make ``version`` current and hold the queue there (a rollback); an earlier pin ends."""
    rollback_to(session=session, queue=queue, version=version)
    unpin(session=session, queue=queue, by=by)
    row = QueuePin(queue=queue, version=version, pinned_by=by)
    session.add(row)
    session.flush()
    return row


def unpin(*, session: Session, queue: str, by: str) -> QueuePin | None:
    """End the queue's pin; the pin ended, or ``None`` when there was none."""
    row = active_pin(session=session, queue=queue)
    if row is not None:
        row.unpinned_at = utcnow()
        row.unpinned_by = by
        session.flush()
    return row


def active_pins(*, session: Session, queues: Sequence[str]) -> dict[str, QueuePin]:
    """The active pin of each of ``queues`` that has one, in one query (App Home)."""
    rows = session.scalars(
        select(QueuePin)
        .where(QueuePin.queue.in_(list(queues)), QueuePin.unpinned_at.is_(None))
        .order_by(QueuePin.id)
    )
    return {row.queue: row for row in rows}


def pins_between(*, session: Session, queue: str, start: datetime, end: datetime) -> list[QueuePin]:
    """Rollbacks made in ``[start, end)``, oldest first (the digest's model versions)."""
    return list(
        session.scalars(
            select(QueuePin)
            .where(QueuePin.queue == queue, QueuePin.pinned_at >= start, QueuePin.pinned_at < end)
            .order_by(QueuePin.pinned_at, QueuePin.id)
        )
    )
