"""Fitting, hold-out splits and the metrics the promotion gate compares.

A holdout of a few recent answers may lack a class entirely. Metrics that are then undefined
(ROC AUC without both classes, average precision without positives) are ``None`` rather than an
exception or a warning-laden 0, so the gate can tell "not measurable" from "bad".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from models.errors import BadTrainingData
from models.pipelines import CLASSIFIER_STEP, Kind, build_pipeline, to_model_input

MIN_ROWS = 10
#: Direction of each metric, for whoever compares two ``Metrics``.
HIGHER_IS_BETTER: Mapping[str, bool] = {
    "accuracy": True,
    "average_precision": True,
    "roc_auc": True,
    "macro_f1": True,
    "log_loss": False,
    "brier": False,
}


def split_holdout(
    n: int,
    *,
    fraction: float = 0.2,
    random_state: int = 0,
    stratify: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train indices, holdout indices) of ``range(n)``.

    Stratified on ``stratify`` when every class has at least two rows and both parts can hold
    one row of each class; otherwise a plain random split, since a stratified one is impossible.
    """
    if n < 2:
        raise BadTrainingData(f"need at least 2 rows to hold some out, got {n}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be within (0, 1), got {fraction!r}")
    if stratify is not None and len(stratify) != n:
        raise ValueError(f"stratify has {len(stratify)} labels for {n} rows")
    n_holdout = min(n - 1, max(1, round(n * fraction)))
    strata: Sequence[str] | None = None
    if stratify is not None:
        counts = Counter(stratify)
        n_classes = len(counts)
        if min(counts.values()) >= 2 and n_classes <= min(n_holdout, n - n_holdout):
            strata = stratify
    train, holdout = train_test_split(
        np.arange(n), test_size=n_holdout, random_state=random_state, stratify=strata
    )
    return np.sort(train), np.sort(holdout)


@dataclass(frozen=True)
class Metrics:
    """Quality of a model on one evaluation set; ``None`` where a metric is undefined there."""

    n: int
    accuracy: float | None
    average_precision: float | None
    roc_auc: float | None
    macro_f1: float | None
    log_loss: float | None
    #: The multi-class Brier score: mean over rows of sum over labels of (p - [label])²; for
    #: two labels twice scikit-learn's ``brier_score_loss``. Bounded, so one confident mistake
    #: on a small slice cannot dominate it as it dominates log loss.
    brier: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def primary(self, name: str) -> float:
        """The value of metric ``name``; see ``HIGHER_IS_BETTER`` for its direction.

        Raises ``KeyError`` for an unknown name and ``ValueError`` when the metric is undefined
        on this evaluation set, so a comparison never silently runs on a missing number.
        """
        if name not in HIGHER_IS_BETTER:
            raise KeyError(f"unknown metric {name!r}; expected one of {sorted(HIGHER_IS_BETTER)}")
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{name} is undefined on this evaluation set (n={self.n})")
        return float(value)


def proba_by_label(pipeline: Pipeline, x: list[Any], labels: Sequence[str]) -> np.ndarray:
    """Probabilities with one column per queue label, 0 for a label the model never saw."""
    proba = np.asarray(pipeline.predict_proba(x))
    columns = {str(c): i for i, c in enumerate(pipeline.classes_)}
    out = np.zeros((len(x), len(labels)))
    for j, label in enumerate(labels):
        if label in columns:
            out[:, j] = proba[:, columns[label]]
    return out


def _log_loss(
    y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str], weights: np.ndarray | None
) -> float:
    # sklearn's log_loss reads the probability columns in sorted label order, not ours.
    order = sorted(range(len(labels)), key=lambda j: labels[j])
    return float(
        log_loss(y_true, proba[:, order], labels=[labels[j] for j in order], sample_weight=weights)
    )


def evaluate(
    pipeline: Pipeline,
    kind: Kind,
    payloads: Sequence[Mapping[str, Any]],
    y_true: Sequence[str],
    *,
    labels: Sequence[str],
    sample_weight: Sequence[float] | None = None,
) -> Metrics:
    """Score ``payloads`` and compare with ``y_true``.

    For binary queues the positive class is ``labels[1]`` (the config's convention).
    ``sample_weight`` takes inverse audit probabilities so audit answers count for the
    confident predictions they stand for.
    """
    labels = [str(label) for label in labels]
    if len(payloads) != len(y_true):
        raise ValueError(f"{len(payloads)} payloads but {len(y_true)} labels")
    unknown = sorted(set(y_true) - set(labels))
    if unknown:
        raise BadTrainingData(f"labels {unknown} are not among the queue's labels {labels}")
    n = len(y_true)
    if n == 0:
        return Metrics(0, None, None, None, None, None, None)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    proba = proba_by_label(pipeline, to_model_input(kind, payloads), labels)
    y_pred = [labels[i] for i in proba.argmax(axis=1)]
    present = set(y_true)
    average_precision = roc_auc = None
    if len(labels) == 2:
        positive = np.asarray([y == labels[1] for y in y_true])
        if labels[1] in present:
            average_precision = float(
                average_precision_score(positive, proba[:, 1], sample_weight=weights)
            )
        if len(present) == 2:
            roc_auc = float(roc_auc_score(positive, proba[:, 1], sample_weight=weights))
    return Metrics(
        n=n,
        accuracy=float(accuracy_score(y_true, y_pred, sample_weight=weights)),
        average_precision=average_precision,
        roc_auc=roc_auc,
        macro_f1=float(
            f1_score(y_true, y_pred, average="macro", sample_weight=weights, zero_division=0)
        ),
        log_loss=_log_loss(y_true, proba, labels, weights),
        brier=brier_score(y_true, proba, labels, weights),
    )


def brier_score(
    y_true: Sequence[str],
    proba: np.ndarray,
    labels: Sequence[str],
    weights: np.ndarray | None = None,
) -> float:
    """Multi-class Brier score of ``proba`` (one column per label, in ``labels`` order)."""
    index = {label: j for j, label in enumerate(labels)}
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y_true)), [index[y] for y in y_true]] = 1.0
    per_row = ((proba - onehot) ** 2).sum(axis=1)
    return float(np.average(per_row, weights=weights))


def fit(
    kind: Kind,
    payloads: Sequence[Mapping[str, Any]],
    labels_y: Sequence[str],
    *,
    random_state: int = 0,
    sample_weight: Sequence[float] | None = None,
) -> Pipeline:
    """Build and fit the pipeline of ``kind``; refuse data too small to learn from."""
    if len(payloads) != len(labels_y):
        raise BadTrainingData(f"{len(payloads)} examples but {len(labels_y)} labels")
    if len(labels_y) < MIN_ROWS:
        raise BadTrainingData(
            f"need at least {MIN_ROWS} labelled examples to train, got {len(labels_y)}"
        )
    counts = Counter(labels_y)
    if len(counts) < 2:
        raise BadTrainingData(
            f"need at least 2 different labels to train, got {len(counts)}: {dict(counts)}"
        )
    x = to_model_input(kind, payloads)
    params: dict[str, Any] = {}
    if sample_weight is not None:
        params[f"{CLASSIFIER_STEP}__sample_weight"] = np.asarray(sample_weight, dtype=float)
    pipeline = build_pipeline(kind, random_state=random_state)
    try:
        return pipeline.fit(x, list(labels_y), **params)
    except ValueError as exc:
        if kind != "text":
            raise BadTrainingData(f"cannot train on this data: {exc}") from exc
    # Few texts with no term in two of them: min_df=2 pruned everything; keep every term.
    pipeline.set_params(vectorize__min_df=1)
    try:
        return pipeline.fit(x, list(labels_y), **params)
    except ValueError as exc:  # texts without a single word
        raise BadTrainingData(f"cannot train on these texts: {exc}") from exc
