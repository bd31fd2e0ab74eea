"""Which posted messages are due a reminder or an escalation, and claiming each one once.

A message gets at most one reminder (``reminded_at``) and one escalation (``escalated_at``).
The job claims a message before it calls Slack: ``claim`` is a conditional
``UPDATE … WHERE <column> IS NULL`` whose row count says whether this caller won, so two
clocks (or two runs that overlap) never both post. On PostgreSQL the second UPDATE waits for
the first's row lock and then re-reads the row, finding the column set; on SQLite the whole
transaction is serialised by ``BEGIN IMMEDIATE``. Either way the claim must be committed
before the Slack call.

Marking before posting makes a reminder at-most-once: if the process dies between the claim
and the post, that one reminder is lost. That is the cheaper failure for a nudge (a doubled
ping annoys everyone; a missed one is followed by the escalation). A post that *fails* is not
lost: the job calls ``release`` and the next run tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.tables import Item, ReviewMessage

Stage = Literal["remind", "escalate"]


def _column(stage: Stage) -> InstrumentedAttribute[datetime | None]:
    if stage == "remind":
        return ReviewMessage.reminded_at
    if stage == "escalate":
        return ReviewMessage.escalated_at
    raise ValueError(f"unknown reminder stage {stage!r}")


@dataclass(frozen=True)
class DueMessage:
    """What a reminder needs to know about a message, read in one query."""

    message_id: int
    queue: str
    channel: str
    ts: str
    item_id: str  # the producer's id, shown in the reminder
    posted_at: datetime


def _not_yet(stage: Stage) -> list[ColumnElement[bool]]:
    # An escalated message gets no reminder afterwards: when the clock was down past both
    # delays, the job escalates and the (now pointless) reminder is skipped.
    conditions: list[ColumnElement[bool]] = [_column(stage).is_(None)]
    if stage == "remind":
        conditions.append(ReviewMessage.escalated_at.is_(None))
    return conditions


def due_messages(
    *, session: Session, queue: str, stage: Stage, posted_before: datetime, limit: int
) -> list[DueMessage]:
    """Posted, unanswered messages of ``queue`` posted before the cutoff and not yet sent
    ``stage``; oldest first, at most ``limit``."""
    rows = session.execute(
        select(
            ReviewMessage.id,
            ReviewMessage.queue,
            ReviewMessage.channel,
            ReviewMessage.ts,
            func.coalesce(Item.display_id, Item.external_id),  # the id the card shows
            ReviewMessage.posted_at,
        )
        .join(Item, Item.id == ReviewMessage.item_id)
        .where(
            ReviewMessage.queue == queue,
            ReviewMessage.state == "posted",
            ReviewMessage.ts.is_not(None),
            ReviewMessage.posted_at <= posted_before,
            *_not_yet(stage),
        )
        .order_by(ReviewMessage.posted_at, ReviewMessage.id)
        .limit(limit)
    )
    due = []
    for id_, q, channel, ts, ext, posted_at in rows:
        assert ts is not None and posted_at is not None  # filtered by the query
        due.append(DueMessage(id_, q, channel, ts, ext, posted_at))
    return due


def claim(*, session: Session, message_id: int, stage: Stage, now: datetime) -> bool:
    """Mark ``stage`` as sent for this message; False when another caller already did, or the
    message was answered in the meantime. Commit before calling Slack."""
    result = session.execute(
        update(ReviewMessage)
        .where(ReviewMessage.id == message_id, ReviewMessage.state == "posted", *_not_yet(stage))
        .values({_column(stage): now})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(*, session: Session, message_id: int, stage: Stage) -> None:
    """Undo a claim whose post failed, so a later run sends it."""
    session.execute(
        update(ReviewMessage)
        .where(ReviewMessage.id == message_id)
        .values({_column(stage): None})
        .execution_options(synchronize_session=False)
    )
