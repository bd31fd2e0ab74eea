"""The tabular queue kind: dicts of feature → number or string, one-hot, scaled, logistic.

Its explanation is exact: the pipeline is linear after ``DictVectorizer`` and ``MaxAbsScaler``,
so a column's contribution is its coefficient times its scaled value, and a one-hot column maps
back to the input it came from (``purpose=car`` reads ``purpose`` = ``car``).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from models.errors import InvalidPayload
from models.kinds import Contribution, InputProblems, QueueKind, strongest, weights_toward

TabularRow = dict[str, float | str]
CLASSIFIER_STEP = "classify"
#: Categories recorded per feature in the schema; past this a feature is an open set (an id, a
#: free text) whose unseen values are not worth a warning.
MAX_CATEGORIES = 200


def classifier(random_state: int) -> LogisticRegression:
    # lbfgs handles binary and multinomial alike and is single-threaded: fast enough on 2 cores.
    return LogisticRegression(max_iter=1000, random_state=random_state)


def _row(features: Mapping[str, Any], index: int) -> TabularRow:
    row: TabularRow = {}
    for name, value in features.items():
        if value is None:
            continue
        if isinstance(value, bool | int | float):
            number = float(value)
            # NaN or inf would make LogisticRegression refuse the whole batch: treat as missing.
            if math.isfinite(number):
                row[str(name)] = number
        elif isinstance(value, str):
            row[str(name)] = value
        else:
            raise InvalidPayload(
                f"item {index}: feature {name!r} must be a number or a string, "
                f"not {type(value).__name__}"
            )
    return row


class TabularKind(QueueKind):
    """``DictVectorizer`` one-hot encodes strings (an unseen category is ignored at scoring) and
    treats a missing key as 0. ``MaxAbsScaler`` keeps the matrix sparse and leaves one-hot
    columns at 0/1, so a rare category is not blown up the way dividing by its small standard
    deviation would."""

    name = "tabular"

    def build(self, *, random_state: int) -> Pipeline:
        return Pipeline(
            [
                ("vectorize", DictVectorizer(sparse=True)),
                ("scale", MaxAbsScaler()),
                (CLASSIFIER_STEP, classifier(random_state)),
            ]
        )

    def model_input(self, payloads: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Numbers and bools become floats, strings stay strings (one-hot), None and non-finite
        numbers are dropped, i.e. treated as missing."""
        rows: list[Any] = []
        for index, payload in enumerate(payloads):
            features = payload.get("features")
            if not isinstance(features, Mapping):
                raise InvalidPayload(f"item {index}: 'features' must be an object")
            rows.append(_row(features, index))
        return rows

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
        columns = _columns_of(pipeline.named_steps["vectorize"])
        dropped = _dropped(columns, frozenset(exclude))
        weights = weights_toward(pipeline[-1])
        sources, names = columns.sources, columns.names
        found = strongest(transformed, weights, toward, top=top, dropped=dropped)
        built: list[Contribution] = []
        for i, column, value in zip(found.rows, found.columns, found.values, strict=True):
            feature, category = sources[column]
            row = rows[i]
            if category is None:
                shown = row.get(feature)
            elif row.get(feature) == category:
                shown = category
            else:  # a feature name holding "=": read it back against the row
                feature, shown = _source(names[column], row)
            built.append({"feature": feature, "value": shown, "contribution": value})
        return found.per_row(built)

    def schema(self, rows: Sequence[Any]) -> dict[str, Any]:
        """``{"features": {name: {"type": "numeric"} | {"type": "categorical", "categories":
        [...], "open": bool}}}``; a feature seen both as a number and a string is categorical."""
        numeric: set[str] = set()
        categories: dict[str, set[str]] = {}
        for row in rows:
            for name, value in row.items():
                if isinstance(value, str):
                    categories.setdefault(name, set()).add(value)
                else:
                    numeric.add(name)
        features: dict[str, Any] = {}
        for name in sorted(numeric | set(categories)):
            if name not in categories:
                features[name] = {"type": "numeric"}
                continue
            seen = sorted(categories[name])
            is_open = len(seen) > MAX_CATEGORIES
            features[name] = {
                "type": "categorical",
                "categories": [] if is_open else seen,
                "open": is_open,
            }
        return {"features": features}

    def problems(self, schema: Mapping[str, Any], row: Any) -> InputProblems:
        known: Mapping[str, Any] = schema.get("features") or {}
        if not known:
            return InputProblems()
        unseen = tuple(
            (name, value)
            for name, value in row.items()
            if isinstance(value, str)
            and name in known
            and known[name].get("type") == "categorical"
            and not known[name].get("open")
            and value not in known[name].get("categories", ())
        )
        return InputProblems(
            missing=tuple(name for name in known if name not in row),
            unknown=tuple(sorted(name for name in row if name not in known)),
            unseen_categories=unseen,
        )


@dataclass(frozen=True)
class _Columns:
    names: list[str]
    #: column → (input feature, category of a one-hot column or None for a number)
    sources: list[tuple[str, str | None]]


_columns: weakref.WeakKeyDictionary[Any, _Columns] = weakref.WeakKeyDictionary()
_masks: dict[tuple[int, frozenset[str]], np.ndarray] = {}
_cache_lock = threading.Lock()


def _columns_of(vectorizer: DictVectorizer) -> _Columns:
    """The vectorizer's columns and the inputs they come from, once per fitted vectorizer (the
    registry keeps loaded pipelines). ``name=value`` is a one-hot column (split at the first
    "="; a name that holds "=" itself is read back against each row)."""
    with _cache_lock:
        found = _columns.get(vectorizer)
        if found is None:
            names = list(vectorizer.feature_names_)
            sources: list[tuple[str, str | None]] = []
            for name in names:
                feature, sep, category = name.partition("=")
                sources.append((feature, category) if sep else (name, None))
            found = _Columns(names, sources)
            _columns[vectorizer] = found
        return found


def _dropped(columns: _Columns, exclude: frozenset[str]) -> np.ndarray:
    """True for the columns of an input in ``exclude`` (a hidden field)."""
    key = (id(columns), exclude)
    with _cache_lock:
        mask = _masks.get(key)
    if mask is None:
        mask = np.array(
            [
                feature in exclude or name in exclude
                for name, (feature, _) in zip(columns.names, columns.sources, strict=True)
            ],
            dtype=bool,
        )
        with _cache_lock:
            if len(_masks) > 64:
                _masks.clear()
            _masks[key] = mask
    return mask


def _source(column: str, row: Mapping[str, Any]) -> tuple[str, str | float | None]:
    """The input a column of ``DictVectorizer`` came from: a numeric feature keeps its name; a
    one-hot column is ``name=value``, read back against the row (a name may hold "=" too)."""
    value = row.get(column)
    if value is not None and not isinstance(value, str):
        return column, value
    at = column.find("=")
    while at != -1:
        name, category = column[:at], column[at + 1 :]
        if row.get(name) == category:
            return name, category
        at = column.find("=", at + 1)
    return column, None
