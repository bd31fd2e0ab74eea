"""Control items in the database: the trusted rows not used yet, and storing the ones chosen.

A control item is an ordinary ``Item`` (its internal ``external_id`` starts ``control:`` and is
never shown: ``display_id`` is), a ``Prediction`` with route ``gold``, an outbox row, and a
``ControlItem`` row that keeps the true label and the row's key, unique per queue.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.reviews import undone_votes
from storage.tables import ControlItem, Item, Prediction, Review, ReviewMessage, TrainingExample

GOLD = "gold"
INTERNAL_PREFIX = "control:"


def example_key(payload: dict[str, Any]) -> str:
    """A row's identity, whatever `hitl train` uploads: the same row gets the same key."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TrustedRow:
    key: str
    external_id: str | None
    payload: dict[str, Any]
    label: str


def unused_rows(
    *, session: Session, queue: str, limit: int, rng: np.random.Generator
) -> list[TrustedRow]:
    """Up to ``limit`` rows of the queue's training split never posted as control items, drawn
    at random (the gate's trusted hold-out is never posted: it must stay unseen)."""
    ids = list(
        session.scalars(
            select(TrainingExample.id).where(
                TrainingExample.queue == queue, TrainingExample.split == "train"
            )
        )
    )
    if not ids:
        return []
    used = set(session.scalars(select(ControlItem.example_key).where(ControlItem.queue == queue)))
    order = rng.permutation(len(ids))
    rows: list[TrustedRow] = []
    for start in range(0, len(ids), 4 * limit):
        chunk = [ids[i] for i in order[start : start + 4 * limit]]
        for external_id, payload, label in session.execute(
            select(
                TrainingExample.external_id,
                TrainingExample.payload,
                TrainingExample.label,
            ).where(TrainingExample.id.in_(chunk))
        ):
            key = example_key(payload)
            if key not in used:
                used.add(key)  # a file may hold the same row twice
                rows.append(TrustedRow(key, external_id, payload, label))
        if len(rows) >= limit:
            break
    return rows[:limit]


def recent_confident(*, session: Session, queue: str, limit: int = 200) -> list[tuple[str, float]]:
    """(label, confidence) of the queue's latest confident predictions (automatic or audited)."""
    rows = session.execute(
        select(Prediction.label, Prediction.confidence)
        .join(Item, Item.id == Prediction.item_id)
        .where(Item.queue == queue, Prediction.route.in_(("auto", "audit")))
        .order_by(Item.id.desc())
        .limit(limit)
    ).all()
    return [(str(label), float(confidence)) for label, confidence in rows]


def recent_ids(*, session: Session, queue: str, limit: int = 50) -> list[str]:
    """The shown ids of the queue's latest producer items, for ids shaped like them."""
    return list(
        session.scalars(
            select(Item.external_id)
            .where(Item.queue == queue, Item.display_id.is_(None))
            .order_by(Item.id.desc())
            .limit(limit)
        )
    )


def shown_ids(*, session: Session, queue: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` some item of the queue already shows."""
    if not ids:
        return set()
    found = session.execute(
        select(Item.external_id, Item.display_id).where(
            Item.queue == queue,
            (Item.external_id.in_(list(ids))) | (Item.display_id.in_(list(ids))),
        )
    ).all()
    return {v for row in found for v in row if v is not None}


@dataclass(frozen=True)
class NewControl:
    row: TrustedRow
    display_id: str
    predicted: str
    confidence: float
    priority: float


def add_control_items(
    *,
    session: Session,
    queue: str,
    channel: str,
    model_version_id: int,
    controls: Sequence[NewControl],
) -> list[Item]:
    """Store control items with their outbox rows, in the caller's transaction."""
    stored = []
    for new in controls:
        item = Item(
            queue=queue,
            external_id=f"{INTERNAL_PREFIX}{uuid.uuid4().hex}",
            display_id=new.display_id,
            payload=new.row.payload,
            context={},
        )
        item.prediction = Prediction(
            model_version_id=model_version_id,
            label=new.predicted,
            confidence=new.confidence,
            route=GOLD,
            audit_probability=1.0,
        )
        item.message = ReviewMessage(
            queue=queue, channel=channel, state="waiting", priority=new.priority
        )
        session.add(item)
        session.flush()
        session.add(
            ControlItem(item_id=item.id, queue=queue, example_key=new.row.key, label=new.row.label)
        )
        stored.append(item)
    session.flush()
    return stored


def answers_by_user(*, session: Session, queue: str) -> tuple[dict[str, int], dict[str, int]]:
    """(all standing votes, votes on control items) per reviewer: their share of control
    answers against their share of answers."""
    is_control = Prediction.route == GOLD
    rows = session.execute(
        select(Review.user_id, is_control, func.count())
        .join(Item, Item.id == Review.item_id)
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Item.queue == queue, Review.action == "vote", Review.id.not_in(undone_votes()))
        .group_by(Review.user_id, is_control)
    ).all()
    answers: dict[str, int] = {}
    controls: dict[str, int] = {}
    for user, control, count in rows:
        answers[user] = answers.get(user, 0) + int(count)
        if control:
            controls[user] = controls.get(user, 0) + int(count)
    return answers, controls
