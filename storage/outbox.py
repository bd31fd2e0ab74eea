"""The outbox of review messages: claimed row by row, so no two processes post the same one.

A message is ``waiting`` until a deliverer claims it (``sending``), then ``posted`` with its
Slack ``ts``; ``max_open`` counts ``sending`` + ``posted`` rows per queue, so the rest wait,
highest priority (least confident) first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from storage.tables import Item, Prediction, ReviewMessage, utcnow

OPEN_STATES = ("sending", "posted")


def open_counts(*, session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ReviewMessage.queue, func.count())
        .where(ReviewMessage.state.in_(OPEN_STATES))
        .group_by(ReviewMessage.queue)
    )
    return {queue: count for queue, count in rows}


def claim_batch(
    *, session: Session, max_open: Mapping[str, int], now: datetime | None = None, limit: int = 50
) -> list[ReviewMessage]:
    """Claim the next messages to post, within each queue's ``max_open``; commit right after.

    Rows locked by another process are skipped (PostgreSQL ``SKIP LOCKED``); on SQLite the
    transaction already holds the database's write lock.
    """
    now = now or utcnow()
    opened = open_counts(session=session)
    claimed: list[ReviewMessage] = []
    for queue, cap in max_open.items():
        free = min(cap - opened.get(queue, 0), limit - len(claimed))
        if free <= 0:
            continue
        rows = session.scalars(
            select(ReviewMessage)
            .where(
                ReviewMessage.queue == queue,
                ReviewMessage.state == "waiting",
                or_(ReviewMessage.next_attempt_at.is_(None), ReviewMessage.next_attempt_at <= now),
            )
            .order_by(ReviewMessage.priority.desc(), ReviewMessage.id)
            .limit(free)
            .with_for_update(skip_locked=True)
            .options(
                selectinload(ReviewMessage.item)
                .selectinload(Item.prediction)
                .selectinload(Prediction.model_version)
            )
        ).all()
        for row in rows:
            row.state = "sending"
            row.claimed_at = now
            row.attempts += 1
        claimed.extend(rows)
    session.flush()
    return claimed


def renew_claim(*, session: Session, message_id: int, attempt: int) -> bool:
    """Whether this deliverer still owns its claim of the message (attempt ``attempt``), renewed
    to now if so. Asked right before posting: a claim another process recovered as stale
    (state reset, or claimed again with a new attempt number) must not be posted by both."""
    renewed = session.execute(
        update(ReviewMessage)
        .where(
            ReviewMessage.id == message_id,
            ReviewMessage.state == "sending",
            ReviewMessage.attempts == attempt,
        )
        .values(claimed_at=utcnow())
    )
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


def mark_posted(*, session: Session, message_id: int, ts: str) -> None:
    row = session.get_one(ReviewMessage, message_id)
    row.ts = ts
    row.posted_at = utcnow()
    row.last_error = None
    row.unclear_since = None
    # An answer cannot come before the post, but a resolved item may be re-posted after a
    # restart: keep it resolved.
    row.state = "resolved" if row.item.resolved_at is not None else "posted"


def mark_retry(*, session: Session, message_id: int, error: str, delay: timedelta) -> None:
    row = session.get_one(ReviewMessage, message_id)
    row.state = "waiting"
    row.last_error = error
    row.next_attempt_at = utcnow() + delay


def mark_unclear(*, session: Session, message_id: int) -> None:
    """The last post ended without a clear answer (a timeout, a 5xx): Slack may have posted it.
    Keep the earliest such claim time: the channel is searched from there before posting again."""
    row = session.get_one(ReviewMessage, message_id)
    if row.unclear_since is None:
        row.unclear_since = row.claimed_at or utcnow()


def mark_failed(*, session: Session, message_id: int, error: str) -> None:
    row = session.get_one(ReviewMessage, message_id)
    row.state = "failed"
    row.last_error = error


def requeue_failed(*, session: Session) -> int:
    """Give failed deliveries another round of attempts (run by `hitl clock`)."""
    rows = session.scalars(select(ReviewMessage).where(ReviewMessage.state == "failed")).all()
    for row in rows:
        row.state = "waiting"
        row.attempts = 0
        row.next_attempt_at = None
    return len(rows)


def stale_claims(*, session: Session, older_than: timedelta) -> list[ReviewMessage]:
    """Messages a deliverer claimed and never finished (it crashed mid-post)."""
    cutoff = utcnow() - older_than
    return list(
        session.scalars(
            select(ReviewMessage)
            .where(ReviewMessage.state == "sending", ReviewMessage.claimed_at < cutoff)
            .with_for_update(skip_locked=True)
        )
    )


def message_for_item(*, session: Session, item_pk: int) -> ReviewMessage | None:
    return session.scalar(select(ReviewMessage).where(ReviewMessage.item_id == item_pk))
