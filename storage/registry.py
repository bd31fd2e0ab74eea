"""The model registry: every trained version of every queue, and which one is current.

The current version is read from the database on every scoring call (cheap: one indexed row),
so a promotion or a rollback reaches every running process at once; only the deserialized
artifact is cached, by its immutable sha256.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.errors import VersionNotFound
from storage.tables import ModelVersion, utcnow

CURRENT, RETIRED, REJECTED = "current", "retired", "rejected"
NUMBERING_LOCK = 0x68726567  # "hreg": advisory lock class of version numbering, per queue


def add_version(
    *,
    session: Session,
    queue: str,
    kind: str,
    artifact: bytes,
    sha256: str,
    labels: list[str],
    n_train: int,
    metrics: dict[str, Any],
    info: dict[str, Any],
    make_current: bool,
) -> ModelVersion:
    """Store a new version; with ``make_current`` it replaces the current one."""
    _wait_for_other_versions(session, queue)
    number = (
        session.scalar(select(func.max(ModelVersion.number)).where(ModelVersion.queue == queue))
        or 0
    ) + 1
    row = ModelVersion(
        queue=queue,
        number=number,
        version=f"{queue}-v{number}",
        kind=kind,
        state=REJECTED if not make_current else RETIRED,
        artifact=artifact,
        sha256=sha256,
        labels={"labels": labels},
        n_train=n_train,
        metrics=metrics,
        info=info,
    )
    session.add(row)
    session.flush()
    if make_current:
        set_current(session=session, queue=queue, version=row.version)
    return row


def _wait_for_other_versions(session: Session, queue: str) -> None:
    """Two trainings of one queue at once (`hitl train` twice, `hitl retrain` beside the clock)
    would read the same highest number and the second would fail on the unique version. On
    PostgreSQL the second waits here, until the first commits, for a transaction-scoped
    advisory lock; SQLite's ``BEGIN IMMEDIATE`` already lets one writer in at a time."""
    if is_postgres(session.get_bind()):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(:queue))"),
            {"k": NUMBERING_LOCK, "queue": queue},
        )


def set_current(
    *, session: Session, queue: str, version: str, promotion: bool = True
) -> ModelVersion:
    """Make ``version`` the one that scores new items.

    A promotion records when (``promoted_at``: the digest lists it as promoted then); a rollback
    (``promotion=False``, see ``storage.pins``) keeps the date the version was first promoted, so
    the digest does not read a rollback as a promotion.
    """
    # Lock the queue's versions first: a concurrent promotion or rollback waits here, then sees
    # the version this one makes current and retires it, so a queue never has two current ones
    # (PostgreSQL; SQLite already serialises writers with BEGIN IMMEDIATE).
    session.execute(select(ModelVersion.id).where(ModelVersion.queue == queue).with_for_update())
    row = get_version(session=session, queue=queue, version=version)
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.queue == queue, ModelVersion.state == CURRENT)
        .values(state=RETIRED)
    )
    row.state = CURRENT
    if promotion:
        row.promoted_at = utcnow()
    session.flush()
    return row


def rollback_to(*, session: Session, queue: str, version: str) -> ModelVersion:
    """Make an earlier ``version`` current again without recording a promotion."""
    return set_current(session=session, queue=queue, version=version, promotion=False)


def latest_version(*, session: Session, queue: str) -> ModelVersion | None:
    """The queue's newest version, promoted or not: the last candidate made."""
    return session.scalar(
        select(ModelVersion)
        .where(ModelVersion.queue == queue)
        .order_by(ModelVersion.number.desc())
        .limit(1)
    )


def get_version(*, session: Session, queue: str, version: str) -> ModelVersion:
    row = session.scalar(
        select(ModelVersion).where(ModelVersion.queue == queue, ModelVersion.version == version)
    )
    if row is None:
        raise VersionNotFound(queue, version)
    return row


def current_version(*, session: Session, queue: str) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.queue == queue, ModelVersion.state == CURRENT)
    )


def list_versions(*, session: Session, queue: str) -> list[ModelVersion]:
    return list(
        session.scalars(
            select(ModelVersion).where(ModelVersion.queue == queue).order_by(ModelVersion.number)
        )
    )
