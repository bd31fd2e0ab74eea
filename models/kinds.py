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
from typing import Any, ClassVar, TypedDict

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline

#: How many contributions are kept with a prediction: the five a card shows. Fields hidden
#: when it is scored are left out first (the next strongest take their place); a field hidden
#: later is left out of cards showing older items, which then show fewer.
KEPT_CONTRIBUTIONS = 5


class Contribution(TypedDict):
    """One input's share of a prediction: ``feature`` (= ``value``) pushed by ``contribution``,
    exactly as it is stored with the prediction and served by the API.

    For a one-hot column the feature is the input field and the value its category
    (``purpose`` = ``car``); for text the feature is ``text`` and the value the word or bigram.
    A plain dict at run time: a batch of a thousand items makes thousands of them, and a
    dataclass or named tuple would cost more to build than the rest of the explanation.
    """

    feature: str
    value: str | float | None
    contribution: float


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


@dataclass(frozen=True)
class Strongest:
    """The strongest contributions of a batch, flat: entry ``j`` is ``values[j]`` of column
    ``columns[j]`` in row ``rows[j]``; row ``i`` holds entries ``bounds[i]:bounds[i + 1]``,
    strongest first. Flat lists, so a kind builds its contributions in one pass."""

    rows: list[int]
    columns: list[int]
    values: list[float]
    bounds: list[int]

    def per_row(self, built: list[Any]) -> list[list[Any]]:
        """``built`` (one object per entry) cut into one list per row."""
        b = self.bounds
        return [built[b[i] : b[i + 1]] for i in range(len(b) - 1)]


def strongest(
    transformed: Any, weights: np.ndarray, toward: np.ndarray, *, top: int, dropped: np.ndarray
) -> Strongest:
    """Each row's ``top`` strongest non-zero contributions toward class ``toward[i]``, leaving
    out the columns where ``dropped`` is True.

    Vectorised over the whole batch (one multiply and one sort of the non-zero entries), so
    that explaining costs little next to scoring (``benchmarks/explanations.py``): only the
    kept entries reach Python.
    """
    matrix = sparse.csr_matrix(transformed)
    n = matrix.shape[0]
    row_of = np.repeat(np.arange(n), np.diff(matrix.indptr))
    values = matrix.data * weights[np.asarray(toward)[row_of], matrix.indices]
    values[dropped[matrix.indices]] = 0.0
    strength = np.abs(values)
    # One sort: by row, then strongest first within the row (rows' keys are ≥ 0.5 apart).
    key = row_of - strength / (2.0 * strength.max()) if len(values) else row_of
    order = np.argsort(key)
    rank = np.arange(len(order)) - matrix.indptr[row_of[order]]
    keep = order[(rank < top) & (values[order] != 0.0)]
    kept_rows = row_of[keep]
    return Strongest(
        rows=kept_rows.tolist(),
        columns=matrix.indices[keep].tolist(),
        values=values[keep].tolist(),
        bounds=np.searchsorted(kept_rows, np.arange(n + 1)).tolist(),
    )
