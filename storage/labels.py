"""What people and outcomes said about a queue's items: the raw material of a retrain.

Control items (route ``gold``) are never part of it: they are rows of the training data already,
posted to measure reviewers. Answers of reviewers flagged as unreliable are left out while they
are flagged (``exclude_users``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.reviews import undone_votes
from storage.tables import Item, Outcome, Prediction, Review

GOLD = "gold"


@dataclass(frozen=True)
class ResolvedItem:
    item_id: str
    payload: dict[str, Any]
    label: str
    sampling_probability: float
    resolved_at: datetime


def resolved_items(
    *, session: Session, queue: str, exclude_users: Collection[str] = ()
) -> list[ResolvedItem]:
    """Items people resolved to a label (ties excluded), with their sampling probability.

    With ``exclude_users``, an item is labelled by the majority of the other reviewers' votes;
    an item only they answered (or whose other votes tie) is left out.
    """
    rows = session.execute(
        select(
            Item.external_id,
            Item.payload,
            Item.resolved_label,
            Item.resolved_at,
            Prediction.route,
            Prediction.audit_probability,
        )
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Item.queue == queue, Item.resolved_label.is_not(None), Prediction.route != GOLD)
        .order_by(Item.resolved_at, Item.id)
    ).all()
    labels = {r.external_id: r.resolved_label for r in rows}
    if exclude_users:
        labels = _without(session, queue, set(exclude_users), labels)
    return [
        ResolvedItem(
            item_id=r.external_id,
            payload=r.payload,
            label=labels[r.external_id],
            # A review item was certain to be shown; an audit item with its sampling chance.
            sampling_probability=1.0 if r.route == "review" else r.audit_probability,
            resolved_at=r.resolved_at,
        )
        for r in rows
        if labels.get(r.external_id) is not None
    ]


def _without(
    session: Session, queue: str, excluded: set[str], labels: dict[str, str]
) -> dict[str, str]:
    """``labels`` re-decided without the votes of ``excluded`` (None: nobody else decides)."""
    votes: dict[str, list[tuple[str, str]]] = {}
    for item_id, user, label in session.execute(
        select(Item.external_id, Review.user_id, Review.label)
        .join(Item, Item.id == Review.item_id)
        .where(
            Item.queue == queue,
            Item.resolved_label.is_not(None),
            Review.action == "vote",
            Review.id.not_in(undone_votes()),
        )
    ):
        votes.setdefault(item_id, []).append((user, label or ""))
    result: dict[str, str] = {}
    for item_id, label in labels.items():
        cast = votes.get(item_id, [])
        if not any(user in excluded for user, _ in cast):
            result[item_id] = label
            continue
        kept = Counter(answer for user, answer in cast if user not in excluded).most_common(2)
        if kept and (len(kept) == 1 or kept[0][1] > kept[1][1]):
            result[item_id] = kept[0][0]
    return result


def outcomes(*, session: Session, queue: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(item id → outcome label, item id → payload) for the queue's outcomes."""
    rows = session.execute(
        select(Item.external_id, Item.payload, Outcome.label)
        .join(Outcome, Outcome.item_id == Item.id)
        .where(Item.queue == queue)
    ).all()
    return {r.external_id: r.label for r in rows}, {r.external_id: r.payload for r in rows}


def answers_after(*, session: Session, queue: str, review_id: int) -> int:
    """Votes recorded on the queue's items after the review row ``review_id`` (ids, not clock
    times: two processes' clocks may differ, an id never goes back)."""
    query = (
        select(func.count())
        .select_from(Review)
        .join(Item, Item.id == Review.item_id)
        .where(Item.queue == queue, Review.action == "vote", Review.id > review_id)
    )
    return int(session.scalar(query) or 0)


def data_mark(*, session: Session, queue: str) -> dict[str, Any]:
    """Where the queue's answers and outcomes stand: a retrain stores it with its candidate, and
    the next one makes no candidate while it is unchanged ("no new answers").

    ``review`` is the newest vote or undo (what `retrain_after_answers` counts from);
    ``answers`` a digest of every resolved label and outcome, so an edit that leaves the counts
    alike still counts as new."""
    review = session.scalar(
        select(func.max(Review.id))
        .join(Item, Item.id == Review.item_id)
        .where(Item.queue == queue, Review.action.in_(("vote", "undo")))
    )
    digest = hashlib.sha256()
    for row in session.execute(
        select(Item.external_id, Item.resolved_label, Item.resolved_at)
        .where(Item.queue == queue, Item.resolved_label.is_not(None))
        .order_by(Item.id)
    ):
        digest.update(f"{row[0]}\x1f{row[1]}\x1f{row[2]}\x1e".encode())
    for row in session.execute(
        select(Item.external_id, Outcome.label, Outcome.observed_at)
        .join(Item, Item.id == Outcome.item_id)
        .where(Item.queue == queue)
        .order_by(Outcome.id)
    ):
        digest.update(f"o\x1f{row[0]}\x1f{row[1]}\x1f{row[2]}\x1e".encode())
    return {"review": int(review or 0), "answers": digest.hexdigest()[:16]}
