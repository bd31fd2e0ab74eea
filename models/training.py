"""Training from a labelled file: a queue's first model, or a candidate that must pass the gate.

The held-out part of the file is kept as the queue's trusted slice: every later candidate is
compared on it, which is what protects the model from wrong or malicious answers. A file given
to a queue that already has a model does not replace it by itself: the model trained on it is a
candidate, judged like a retrain (``models.retraining.judge``) on the queue's trusted hold-out
and on the file's own, and the file becomes the queue's labelled data only if the candidate is
promoted (or ``force``\\ d, as `hitl train --force` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from models.evaluation import evaluate, fit, split_holdout
from models.pipelines import Kind, feature_schema
from models.registry import load_current, save_pipeline
from models.retraining import RECENT_FRACTION, flagged_for, holdout_key, judge
from models.selection import HumanLabel, split_recent
from storage.labels import data_mark, resolved_items
from storage.pins import active_pin, unpin
from storage.registry import current_version
from storage.tables import ModelVersion
from storage.training_data import examples, replace_examples

HOLDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class TrainResult:
    """What `hitl train` did: ``version`` is ``None`` when no candidate was made (pinned)."""

    version: ModelVersion | None
    promoted: bool
    reason: str


def train_initial(
    *,
    session: Session,
    queue: str,
    kind: Kind,
    labels: Sequence[str],
    payloads: Sequence[dict[str, Any]],
    y: Sequence[str],
    external_ids: Sequence[str | None] | None = None,
    random_state: int = 0,
) -> ModelVersion:
    """Fit on most of the data, measure on a held-out part, and make the result current: a
    queue's first model (or one forced in). The file becomes the queue's labelled data."""
    split = _split(y, random_state)
    pipeline = fit(kind, *_part(payloads, y, split.train), random_state=random_state)
    metrics = evaluate(pipeline, kind, *_part(payloads, y, split.holdout), labels=list(labels))
    _keep_examples(session, queue, payloads, y, split, external_ids)
    return save_pipeline(
        session=session,
        queue=queue,
        kind=kind,
        pipeline=pipeline,
        labels=list(labels),
        n_train=len(split.train),
        metrics={"holdout": metrics.as_dict()},
        info={
            "random_state": random_state,
            "source": "initial",
            "n_holdout": len(split.holdout),
            # The inputs the model knows: ingestion compares every item with it.
            "feature_schema": feature_schema(kind, _part(payloads, y, split.train)[0]),
            "data_mark": data_mark(session=session, queue=queue),
            "holdout_key": holdout_key(*_part(payloads, y, split.holdout)),
        },
        make_current=True,
    )


def train_from_file(
    *,
    session: Session,
    queue: str,
    kind: Kind,
    labels: Sequence[str],
    payloads: Sequence[dict[str, Any]],
    y: Sequence[str],
    external_ids: Sequence[str | None] | None = None,
    random_state: int = 0,
    force: bool = False,
    min_reviewer_accuracy: float = 0.0,
) -> TrainResult:
    """`hitl train`: the first model of a queue, else a candidate through the gate.

    ``force`` makes the candidate current whatever the gate would say, and lifts a pin (the
    person forcing a model in has decided). Without it a pinned queue makes no candidate.
    """
    kwargs: dict[str, Any] = {
        "session": session,
        "queue": queue,
        "kind": kind,
        "labels": labels,
        "payloads": payloads,
        "y": y,
        "external_ids": external_ids,
        "random_state": random_state,
    }
    if current_version(session=session, queue=queue) is None:
        return TrainResult(train_initial(**kwargs), True, "first model")
    if force:
        lifted = unpin(session=session, queue=queue, by="hitl train --force")
        version = train_initial(**kwargs)
        why = "forced" + ("" if lifted is None else f"; pin to {lifted.version} lifted")
        return TrainResult(version, True, why)
    pin = active_pin(session=session, queue=queue)
    if pin is not None:
        return TrainResult(None, False, f"pinned to {pin.version}")
    return _candidate(**kwargs, min_reviewer_accuracy=min_reviewer_accuracy)


def _candidate(
    *,
    session: Session,
    queue: str,
    kind: Kind,
    labels: Sequence[str],
    payloads: Sequence[dict[str, Any]],
    y: Sequence[str],
    external_ids: Sequence[str | None] | None,
    random_state: int,
    min_reviewer_accuracy: float,
) -> TrainResult:
    """Train on the file; judge on the queue's trusted hold-out (the data it trusts until the
    file is promoted), the file's own hold-out and the queue's recent answers."""
    current = load_current(session=session, queue=queue)
    split = _split(y, random_state)
    candidate = fit(kind, *_part(payloads, y, split.train), random_state=random_state)
    holdout = examples(session=session, queue=queue, split="holdout")
    answers = [
        HumanLabel(r.payload, r.label, r.sampling_probability, r.resolved_at, r.item_id)
        for r in resolved_items(
            session=session,
            queue=queue,
            exclude_users=flagged_for(
                session=session, queue=queue, min_accuracy=min_reviewer_accuracy
            ),
        )
    ]
    _, recent = split_recent(answers, RECENT_FRACTION)
    judgement = judge(
        session=session,
        queue=queue,
        kind=kind,
        labels=labels,
        candidate=candidate,
        current=current,
        holdout=holdout,
        recent=recent,
        recent_truth=[a.label for a in recent],
        held_outcomes=([], []),
        new_file=_part(payloads, y, split.holdout),
    )
    promote = judgement.decision.promote
    metrics = judgement.metrics
    if promote:
        _keep_examples(session, queue, payloads, y, split, external_ids)
        # Its hold-out scores are those of the trusted hold-out it brings (the ratchet's).
        scores = evaluate(candidate, kind, *_part(payloads, y, split.holdout), labels=list(labels))
        metrics = {**metrics, "holdout": scores.as_dict()}
    version = save_pipeline(
        session=session,
        queue=queue,
        kind=kind,
        pipeline=candidate,
        labels=list(labels),
        n_train=len(split.train),
        metrics=metrics,
        info={
            "random_state": random_state,
            "source": "train",
            "reason": judgement.decision.reason,
            "n_holdout": len(split.holdout),
            "feature_schema": feature_schema(kind, _part(payloads, y, split.train)[0]),
            "data_mark": data_mark(session=session, queue=queue),
            # Promoted, the file's hold-out is the queue's trusted one from now on.
            "holdout_key": holdout_key(
                *(_part(payloads, y, split.holdout) if promote else holdout)
            ),
        },
        make_current=promote,
    )
    return TrainResult(version, promote, judgement.decision.reason)


@dataclass(frozen=True)
class _Split:
    train: list[int]
    holdout: list[int]


def _split(y: Sequence[str], random_state: int) -> _Split:
    train, holdout = split_holdout(
        len(y), fraction=HOLDOUT_FRACTION, random_state=random_state, stratify=y
    )
    return _Split(train.tolist(), holdout.tolist())


def _part(
    payloads: Sequence[dict[str, Any]], y: Sequence[str], rows: Sequence[int]
) -> tuple[list[dict[str, Any]], list[str]]:
    return [payloads[i] for i in rows], [y[i] for i in rows]


def _keep_examples(
    session: Session,
    queue: str,
    payloads: Sequence[dict[str, Any]],
    y: Sequence[str],
    split: _Split,
    external_ids: Sequence[str | None] | None,
) -> None:
    splits = ["holdout"] * len(y)
    for i in split.train:
        splits[i] = "train"
    replace_examples(
        session=session,
        queue=queue,
        payloads=payloads,
        labels=y,
        splits=splits,
        external_ids=external_ids,
    )
