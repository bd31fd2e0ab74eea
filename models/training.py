"""Training a queue's first model from its labelled data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from models.evaluation import evaluate, fit, split_holdout
from models.pipelines import Kind, feature_schema
from models.registry import save_pipeline
from storage.tables import ModelVersion
from storage.training_data import replace_examples

HOLDOUT_FRACTION = 0.2


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
    """Fit on most of the data, measure on a held-out part, and make the result current.

    The held-out part is kept as the queue's trusted slice: every later candidate is compared
    on it, which is what protects the model from wrong or malicious answers.
    """
    train_idx, holdout_idx = split_holdout(
        len(y), fraction=HOLDOUT_FRACTION, random_state=random_state, stratify=y
    )
    x_train = [payloads[i] for i in train_idx]
    y_train = [y[i] for i in train_idx]
    pipeline = fit(kind, x_train, y_train, random_state=random_state)
    metrics = evaluate(
        pipeline,
        kind,
        [payloads[i] for i in holdout_idx],
        [y[i] for i in holdout_idx],
        labels=list(labels),
    )
    splits = ["holdout"] * len(y)
    for i in train_idx:
        splits[i] = "train"
    replace_examples(
        session=session,
        queue=queue,
        payloads=payloads,
        labels=y,
        splits=splits,
        external_ids=external_ids,
    )
    return save_pipeline(
        session=session,
        queue=queue,
        kind=kind,
        pipeline=pipeline,
        labels=list(labels),
        n_train=len(train_idx),
        metrics={"holdout": metrics.as_dict()},
        info={
            "random_state": random_state,
            "source": "initial",
            "n_holdout": len(holdout_idx),
            # The inputs the model knows: ingestion compares every item with it.
            "feature_schema": feature_schema(kind, x_train),
        },
        make_current=True,
    )
