"""What a queue kind is made of: its pipeline, its input, its explanation and its input schema.

Every kind of queue (``tabular``, ``text``) is a subclass of ``QueueKind`` registered in
``models.pipelines.KIND_SPECS``. The methods are abstract, so a new kind cannot be instantiated,
let alone registered, until it brings its own ``contributions`` (why the model said what it said
about one item) and its own ``schema`` (which inputs the model knows): a model people cannot ask
"why?" about, or that silently scores inputs it never saw, has no place in front of reviewers.
``tests/models/test_kinds.py`` checks every registered kind explains a real prediction.

Contributions are in the units the model adds up: for the linear pipelines, coefficient ×
transformed value, so the contributions of an item and the intercept sum to its log-odds. They
are signed toward the *predicted* label: positive pushes toward it, negative away from it (for a
binary queue, toward the other label).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline

#: How many contributions are kept with a prediction: more than a card shows (five), so that
#: a field hidden later in the config still leaves five to show.
KEPT_CONTRIBUTIONS = 10


@dataclass(frozen=True)
class Contribution:
    """One input's share of a prediction: ``feature`` (= ``value``) pushed by ``contribution``.

    For a one-hot column the feature is the input field and the value its category
    (``purpose`` = ``car``); for text the feature is ``text`` and the value the word or bigram.
    """

    feature: str
    value: str | float | None
    contribution: float

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "value": self.value, "contribution": self.contribution}


@dataclass(frozen=True)
class InputProblems:
    """How an item's inputs differ from what the model was trained on."""

    missing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    #: ``(feature, value)`` pairs of a category never seen in training.
    unseen_categories: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.missing or self.unknown or self.unseen_categories)


class QueueKind(ABC):
    """The interface every queue kind implements (see the module docstring)."""

    name: ClassVar[str]

    @abstractmethod
    def build(self, *, random_state: int) -> Pipeline:
        """An unfitted pipeline whose last step is a classifier with ``predict_proba``."""

    @abstractmethod
    def model_input(self, payloads: Sequence[Mapping[str, Any]]) -> list[Any]:
        """API payloads as the pipeline's input; ``InvalidPayload`` naming a bad item."""

    @abstractmethod
    def contributions(
        self,
        pipeline: Pipeline,
        transformed: Any,
        rows: Sequence[Any],
        toward: np.ndarray,
        *,
        top: int,
        exclude: Collection[str],
    ) -> list[list[Contribution]]:
        """For each row, its ``top`` strongest contributions toward class index ``toward[i]``
        (of ``pipeline.classes_``), strongest first, leaving out the inputs in ``exclude``.

        ``transformed`` is the input as the classifier sees it (every step but the last
        applied), computed once for scoring and explaining alike.
        """

    @abstractmethod
    def schema(self, rows: Sequence[Any]) -> dict[str, Any]:
        """What the model was trained on, from its training input: stored with the version."""

    @abstractmethod
    def problems(self, schema: Mapping[str, Any], row: Any) -> InputProblems:
        """How ``row`` (one model input) differs from ``schema``."""


def weights_toward(classifier: Any) -> np.ndarray:
    """Row ``k``: the weight of each column toward class ``k`` of a linear classifier.

    Binary ``LogisticRegression`` keeps one row, the log-odds of ``classes_[1]``: class 0 gets
    its opposite. With more classes the logits are only defined up to a shared constant, so each
    class's weights are taken relative to the mean over classes.
    """
    coef = np.asarray(classifier.coef_, dtype=float)
    if coef.shape[0] == 1:
        return np.vstack([-coef[0], coef[0]])
    return coef - coef.mean(axis=0, keepdims=True)


def strongest(
    transformed: Any, weights: np.ndarray, toward: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each row: (column indices, contributions) of its non-zero columns, strongest first."""
    matrix = sparse.csr_matrix(transformed)
    out = []
    for i in range(matrix.shape[0]):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        columns = matrix.indices[start:end]
        values = matrix.data[start:end] * weights[int(toward[i]), columns]
        order = np.argsort(-np.abs(values), kind="stable")
        out.append((columns[order], values[order]))
    return out
