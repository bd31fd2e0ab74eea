"""Posting control items: rows of the queue's trusted labelled data, as ordinary cards.

Called by ingestion, in its transaction, for each batch that sends messages to people; what is
chosen and why is ``models.control_items``. A control item answers for its reviewer, never for
the model: it never trains (``storage.labels``), and its answers measure reviewers
(``models.reviewer_quality``) and correct the accuracy figure (``models.corrected_accuracy``).
"""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline
from sqlalchemy.orm import Session

from bot.config import QueueConfig
from models.control_items import Candidate, Mirror, choose_rows, control_count, lookalike_id
from models.pipelines import score
from models.routing import review_priority
from storage.control import (
    NewControl,
    add_control_items,
    recent_confident,
    recent_ids,
    shown_ids,
    unused_rows,
)
from storage.tables import Item, ModelVersion

#: Unused rows scored to find ones like the audits: enough choice, little work per batch.
CANDIDATES = 200


def add_controls(
    session: Session,
    *,
    queue: QueueConfig,
    version: ModelVersion,
    pipeline: Pipeline,
    messages: int,
    rng: np.random.Generator,
) -> list[Item]:
    """Control items to go with a batch that sends ``messages`` messages to people."""
    k = control_count(messages, queue.gold_rate, rng)
    if k == 0:
        return []
    rows = unused_rows(session=session, queue=queue.name, limit=CANDIDATES, rng=rng)
    if not rows:
        return []
    scored = score(pipeline, queue.kind, [row.payload for row in rows])
    candidates = [Candidate(i, s.label, s.confidence) for i, s in enumerate(scored)]
    mirrors = [Mirror(label, c) for label, c in recent_confident(session=session, queue=queue.name)]
    picks = choose_rows(candidates, mirrors, k, review_below=queue.review_below, rng=rng)
    if not picks:
        return []
    own_ids = [rows[i].external_id for i in picks if rows[i].external_id]
    taken = shown_ids(session=session, queue=queue.name, ids=[i for i in own_ids if i])
    recent = recent_ids(session=session, queue=queue.name)
    controls = []
    for i in picks:
        row, s = rows[i], scored[i]
        display = row.external_id or ""
        if not display or display in taken:
            for _ in range(10):  # an id some item of the queue shows already is drawn again
                display = lookalike_id(recent, rng, taken)
                if not shown_ids(session=session, queue=queue.name, ids=[display]):
                    break
                taken.add(display)
        taken.add(display)
        controls.append(
            NewControl(
                row=row,
                display_id=display,
                predicted=s.label,
                confidence=s.confidence,
                priority=review_priority(s.confidence),
            )
        )
    return add_control_items(
        session=session,
        queue=queue.name,
        channel=queue.channel,
        model_version_id=version.id,
        controls=controls,
    )
