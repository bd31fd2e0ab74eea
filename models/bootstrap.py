"""How much a metric difference between two models on one slice is noise: a paired bootstrap.

Both models are scored on the same re-drawn rows, so what they share cancels out and only
the difference's own variability is left. The metrics are recomputed for all re-draws at once
from weight matrices (B re-draws × n rows), in numpy, so 200 replicates of a few thousand rows
cost milliseconds; each matches scikit-learn's definition (checked against brute force in
``tests/models/test_gate.py``). ``models.gate`` turns the result into a slice's ``noise``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _average_precision(scores: np.ndarray, positive: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's definition) for each row of weights ``w`` (B × n)."""
    order = np.argsort(-scores, kind="stable")
    scores, positive, w = scores[order], positive[order], w[:, order]
    # One threshold per distinct score, as in precision_recall_curve.
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(w * positive, axis=1)[:, last]
    fps = np.cumsum(w * ~positive, axis=1)[:, last]
    called = tps + fps
    precision = np.divide(tps, called, out=np.ones_like(tps), where=called > 0)
    total = tps[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tps / total
    steps = np.diff(recall, axis=1, prepend=0.0)
    result = np.sum(steps * precision, axis=1)
    result[total[:, 0] <= 0] = np.nan
    return result


def _macro_f1(y: np.ndarray, pred: np.ndarray, classes: np.ndarray, w: np.ndarray) -> np.ndarray:
    scores = []
    for c in classes:
        tp = w @ ((y == c) & (pred == c))
        fp = w @ ((y != c) & (pred == c))
        fn = w @ ((y == c) & (pred != c))
        denominator = 2 * tp + fp + fn
        scores.append(np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0))
    return np.mean(scores, axis=0)


def _replicate_metric(
    metric: str, proba: np.ndarray, y: np.ndarray, labels: Sequence[str], w: np.ndarray
) -> np.ndarray | None:
    """``metric`` under each row of bootstrap weights ``w``; ``None`` if not supported."""
    if metric == "log_loss":
        # Each row's loss is fixed; a re-draw only re-weights them (clipped as scikit-learn does).
        truth = np.asarray([list(labels).index(label) for label in y])
        eps = np.finfo(proba.dtype).eps
        loss = -np.log(np.clip(proba[np.arange(len(y)), truth], eps, 1 - eps))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ loss) / w.sum(axis=1)
    if metric == "brier":
        onehot = (np.asarray(y)[:, None] == np.asarray(labels)[None, :]).astype(float)
        loss = ((proba - onehot) ** 2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ loss) / w.sum(axis=1)
    pred = np.asarray(labels)[proba.argmax(axis=1)]
    if metric == "average_precision" and len(labels) == 2:
        return _average_precision(proba[:, 1], y == labels[1], w)
    if metric == "accuracy":
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ (pred == y)) / w.sum(axis=1)
    if metric == "macro_f1":
        return _macro_f1(y, pred, np.union1d(y, pred), w)
    return None


def paired_bootstrap_noise(
    metric: str,
    candidate_proba: np.ndarray,
    current_proba: np.ndarray,
    y: Sequence[str],
    *,
    labels: Sequence[str],
    sample_weight: Sequence[float] | None = None,
    replicates: int = 200,
    random_state: int = 0,
) -> float | None:
    """Standard error of ``metric(candidate) - metric(current)`` over bootstrap re-draws of rows.

    Both models are measured on the same re-drawn rows (paired), so what they share cancels out.
    ``None`` when it cannot be estimated: a metric other than log loss, Brier, average precision
    (binary), accuracy or macro-F1, fewer than two rows, or too few re-draws where the metric
    is defined.
    """
    y_arr = np.asarray(y)
    n = len(y_arr)
    if n < 2 or replicates < 2:
        return None
    base = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    rng = np.random.default_rng(random_state)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates)
    w = counts * base
    cand = _replicate_metric(metric, candidate_proba, y_arr, labels, w)
    curr = _replicate_metric(metric, current_proba, y_arr, labels, w)
    if cand is None or curr is None:
        return None
    diffs = (cand - curr)[np.isfinite(cand) & np.isfinite(curr)]
    if len(diffs) < replicates // 2:
        return None
    return float(np.std(diffs, ddof=1))
