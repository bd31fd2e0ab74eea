"""The scikit-learn pipelines of each queue kind, and scoring (and explaining) with them.

Every step, preprocessing included, lives inside one ``Pipeline`` so that the saved artifact is
the whole model: what was fitted is exactly what scores, with no feature code outside it to drift.
The classifier is a plain ``LogisticRegression`` without class-weight balancing, because its
probabilities are used as they are: the confidence decides which items people see.

Each kind is a ``models.kinds.QueueKind`` (``models.tabular``, ``models.text``) registered in
``KIND_SPECS``; what they must bring, an explanation among it, is said there.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from sklearn.pipeline import Pipeline

from models.kinds import KEPT_CONTRIBUTIONS, Contribution, InputProblems, QueueKind
from models.tabular import CLASSIFIER_STEP, TabularKind, TabularRow
from models.text import TextKind

Kind = Literal["tabular", "text"]
KINDS: tuple[str, ...] = get_args(Kind)
KIND_SPECS: dict[str, QueueKind] = {"tabular": TabularKind(), "text": TextKind()}

__all__ = [
    "CLASSIFIER_STEP",
    "KINDS",
    "KIND_SPECS",
    "Explained",
    "Kind",
    "Scored",
    "TabularRow",
    "build_pipeline",
    "feature_schema",
    "input_problems",
    "score",
    "score_explained",
    "to_model_input",
]


def spec(kind: str) -> QueueKind:
    try:
        return KIND_SPECS[kind]
    except KeyError:
        raise ValueError(
            f"unknown queue kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None


def build_pipeline(kind: Kind, *, random_state: int = 0) -> Pipeline:
    """Return an unfitted pipeline for ``kind`` (see ``models.tabular`` and ``models.text``)."""
    return spec(kind).build(random_state=random_state)


def to_model_input(kind: Kind, payloads: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Turn API payloads (``{"features": {...}}`` or ``{"text": "..."}``) into pipeline input.

    tabular: numbers and bools become floats, strings stay strings (one-hot), None and
    non-finite numbers are dropped, i.e. treated as missing. text: the string itself.
    """
    return spec(kind).model_input(payloads)


def feature_schema(kind: Kind, payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The inputs a model trained on ``payloads`` knows, to store with its version."""
    return spec(kind).schema(to_model_input(kind, payloads))


def input_problems(
    kind: Kind, schema: Mapping[str, Any], payloads: Sequence[Mapping[str, Any]]
) -> list[InputProblems]:
    """For each payload, how it differs from ``schema`` (``feature_schema`` of the model)."""
    kind_spec = spec(kind)
    return [kind_spec.problems(schema, row) for row in kind_spec.model_input(payloads)]


@dataclass(frozen=True)
class Scored:
    """A prediction: the most probable label and its probability."""

    label: str
    confidence: float


@dataclass(frozen=True)
class Explained(Scored):
    """A prediction with its strongest contributions, strongest first (``models.kinds``)."""

    contributions: list[Contribution] = field(default_factory=list)


def _best(proba: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, list[str], list[float]]:
    """Index, label and probability of each row's most probable class."""
    best = proba.argmax(axis=1)
    labels = [str(label) for label in classes[best]]
    confidences = np.clip(proba[np.arange(len(best)), best], 0.0, 1.0).tolist()
    return best, labels, confidences


def score(pipeline: Pipeline, kind: Kind, payloads: Sequence[Mapping[str, Any]]) -> list[Scored]:
    """Score payloads; ``confidence`` is the predicted label's probability, in [0, 1]."""
    if not payloads:
        return []
    proba = np.asarray(pipeline.predict_proba(to_model_input(kind, payloads)))
    _, labels, confidences = _best(proba, pipeline.classes_)
    return [Scored(label, p) for label, p in zip(labels, confidences, strict=True)]


def score_explained(
    pipeline: Pipeline,
    kind: Kind,
    payloads: Sequence[Mapping[str, Any]],
    *,
    top: int = KEPT_CONTRIBUTIONS,
    exclude: Collection[str] = (),
) -> list[Explained]:
    """``score``, each prediction with its ``top`` strongest contributions toward the predicted
    label, leaving out the inputs named in ``exclude`` (the next strongest take their place).

    The input is transformed once and used for both, so explaining costs little on top of
    scoring (``benchmarks/explanations.py``).
    """
    if not payloads:
        return []
    kind_spec = spec(kind)
    rows = kind_spec.model_input(payloads)
    transformed = pipeline[:-1].transform(rows)
    proba = np.asarray(pipeline[-1].predict_proba(transformed))
    best, labels, confidences = _best(proba, pipeline.classes_)
    contributions = kind_spec.contributions(
        pipeline, transformed, rows, best, top=top, exclude=exclude
    )
    return [
        Explained(label, p, c)
        for label, p, c in zip(labels, confidences, contributions, strict=True)
    ]
