"""Scheduled runs of `hitl clock` jobs, claimed once per (job, slot).

The clock lock makes one clock active, but a clock that lost its lock a moment ago may still be
finishing its check when another takes over; the row claimed here is what keeps a weekly digest
or a scheduled retrain from running twice for the same slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.tables import JobRun, utcnow

KEEP = timedelta(days=60)


def claim_run(*, session: Session, job: str, slot: datetime, holder: str) -> bool:
    """Claim the run of ``job`` for ``slot``; False if it was claimed before (by any clock).

    Commits nothing itself: the caller's transaction holds the claim, and a second claimant
    waits on the row (PostgreSQL's unique index, SQLite's write lock) and then sees it taken.
    """
    session.execute(delete(JobRun).where(JobRun.job == job, JobRun.slot < slot - KEEP))
    taken = session.scalar(select(JobRun.holder).where(JobRun.job == job, JobRun.slot == slot))
    if taken is not None:
        return False
    try:
        with session.begin_nested():
            session.add(JobRun(job=job, slot=slot, holder=holder, started_at=utcnow()))
    except IntegrityError:  # a concurrent claim won the primary key (job, slot)
        return False
    return True
