"""The labelled data a queue started from, kept in the database for every later retrain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from storage.tables import TrainingExample


def replace_examples(
    *,
    session: Session,
    queue: str,
    payloads: Sequence[dict[str, Any]],
    labels: Sequence[str],
    splits: Sequence[str],
    external_ids: Sequence[str | None] | None = None,
) -> int:
    """Store the initial labelled data of ``queue``, replacing any earlier upload."""
    session.execute(delete(TrainingExample).where(TrainingExample.queue == queue))
    ids = external_ids or [None] * len(payloads)
    rows = [
        {"queue": queue, "external_id": i, "payload": p, "label": y, "split": s}
        for p, y, s, i in zip(payloads, labels, splits, ids, strict=True)
    ]
    if rows:
        session.execute(insert(TrainingExample), rows)
    return len(rows)


def examples(*, session: Session, queue: str, split: str) -> tuple[list[dict[str, Any]], list[str]]:
    rows = session.execute(
        select(TrainingExample.payload, TrainingExample.label)
        .where(TrainingExample.queue == queue, TrainingExample.split == split)
        .order_by(TrainingExample.id)
    ).all()
    return [r.payload for r in rows], [r.label for r in rows]
