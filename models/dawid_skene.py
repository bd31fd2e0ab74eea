"""Dawid & Skene (1979): reviewers' confusion matrices and items' true labels, by EM, from items
that several reviewers answered, with some items' truth known.

Why here: with ``votes_required`` > 1 each audit item carries several answers, and the way
reviewers disagree on them says how often each errs, even on items nobody knows the truth of.
Control items (truth known) are clamped, which also fixes which label is which. ``crowd-kit``
implements the same algorithm but brings pandas, pyarrow and transformers into a Slack bot; this
is the algorithm of the paper in a few lines of numpy, checked in
``tests/models/test_dawid_skene.py`` against a line-by-line transcription of the paper's
equations on the paper's own data (Table 1: 45 patients, 5 anaesthetists, 4 classes).

The model: item ``i`` has a true class ``k`` with probability ``p[k]``; reviewer ``j`` answers
``l`` with probability ``pi[j, k, l]``, independently of the others. EM alternates the E-step
(eq. 2.5: the posterior of each item's class) and the M-step (eqs. 2.3, 2.4: class shares and
confusion matrices from the posteriors), starting from the items' answer shares (eq. 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FLOOR = 1e-12


@dataclass(frozen=True)
class DawidSkene:
    #: Share of each true class, ``(K,)``.
    class_shares: np.ndarray
    #: ``confusion[j, k, l]``: reviewer ``j`` answers ``l`` when the truth is ``k``.
    confusion: np.ndarray
    #: ``posterior[i, k]``: probability that item ``i`` is of class ``k``.
    posterior: np.ndarray
    log_likelihood: float
    iterations: int


def dawid_skene(
    counts: np.ndarray,
    *,
    known: np.ndarray | None = None,
    smoothing: float = 0.0,
    tol: float = 1e-8,
    max_iter: int = 500,
) -> DawidSkene:
    """EM on ``counts[i, j, l]``: how many times reviewer ``j`` answered ``l`` for item ``i``.

    ``known[i]``: the true class index of item ``i``, or -1 when unknown; known items keep
    their class. ``smoothing`` adds pseudo-counts to each confusion row (0: the paper's maximum
    likelihood). Stops when neither the class shares nor the confusion matrices move by more
    than ``tol`` (sum of absolute changes).
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 3 or (counts < 0).any():
        raise ValueError("counts must be a non-negative (items, reviewers, classes) array")
    n_items, _, n_classes = counts.shape
    clamp = np.full(n_items, -1) if known is None else np.asarray(known, dtype=int)
    if clamp.shape != (n_items,) or (clamp >= n_classes).any():
        raise ValueError("known must hold one class index (or -1) per item")
    answers = counts.sum(axis=1)
    totals = answers.sum(axis=1, keepdims=True)
    posterior = np.divide(answers, totals, out=np.full_like(answers, 1.0 / n_classes),
                          where=totals > 0)  # fmt: skip
    posterior = _clamped(posterior, clamp)
    shares = confusion = None
    log_likelihood = float("nan")
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        new_shares, new_confusion = _m_step(counts, posterior, smoothing)
        posterior, log_likelihood = _e_step(counts, new_shares, new_confusion)
        posterior = _clamped(posterior, clamp)
        done = (
            shares is not None
            and confusion is not None
            and np.abs(new_shares - shares).sum() < tol
            and np.abs(new_confusion - confusion).sum() < tol
        )
        shares, confusion = new_shares, new_confusion
        if done:
            break
    assert shares is not None and confusion is not None
    return DawidSkene(shares, confusion, posterior, float(log_likelihood), iterations)


def _m_step(
    counts: np.ndarray, posterior: np.ndarray, smoothing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. 2.3 and 2.4: class shares, and each reviewer's confusion rows."""
    shares = posterior.mean(axis=0)
    weighted = np.einsum("ik,ijl->jkl", posterior, counts) + smoothing
    rows = weighted.sum(axis=2, keepdims=True)
    confusion = np.divide(
        weighted, rows, out=np.full_like(weighted, 1.0 / counts.shape[2]), where=rows > 0
    )
    return shares, confusion


def _e_step(
    counts: np.ndarray, shares: np.ndarray, confusion: np.ndarray
) -> tuple[np.ndarray, float]:
    """Eq. 2.5, in logs: each item's class posterior, and the log-likelihood (eq. 2.7)."""
    log_pi = np.log(np.maximum(confusion, _FLOOR))
    log_joint = np.log(np.maximum(shares, _FLOOR)) + np.einsum("ijl,jkl->ik", counts, log_pi)
    top = log_joint.max(axis=1, keepdims=True)
    joint = np.exp(log_joint - top)
    total = joint.sum(axis=1, keepdims=True)
    return joint / total, float((np.log(total) + top).sum())


def _clamped(posterior: np.ndarray, known: np.ndarray) -> np.ndarray:
    out = posterior.copy()
    rows = np.flatnonzero(known >= 0)
    out[rows] = 0.0
    out[rows, known[rows]] = 1.0
    return out


def soft_counts(result: DawidSkene, counts: np.ndarray) -> np.ndarray:
    """``[j, k, l]``: the answers of each reviewer split by the items' posterior classes, the
    expected "checked answers" the items stand for (what the M-step counts). ``counts`` may be
    the first rows of those EM ran on."""
    counts = np.asarray(counts, dtype=float)
    return np.einsum("ik,ijl->jkl", result.posterior[: len(counts)], counts)
