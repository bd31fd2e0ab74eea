"""Dawid & Skene's EM, checked on the paper's own data against a line-by-line transcription of
its equations, and on simulated reviewers whose confusion matrices are known."""

from __future__ import annotations

import numpy as np
import pytest

from models.dawid_skene import dawid_skene, soft_counts

#: Dawid & Skene (1979), Table 1: 45 patients rated on a 4-point scale by 5 anaesthetists; the
#: first rated every patient three times. Per patient: the ratings of observers 1..5.
TABLE_1 = [
    ([1, 1, 1], 1, 1, 1, 1), ([3, 3, 3], 4, 3, 3, 4), ([1, 1, 2], 2, 1, 2, 2),
    ([2, 2, 2], 3, 1, 2, 1), ([2, 2, 2], 3, 2, 2, 2), ([2, 2, 2], 3, 3, 2, 2),
    ([1, 2, 2], 2, 1, 1, 1), ([3, 3, 3], 3, 4, 3, 3), ([2, 2, 2], 2, 2, 2, 3),
    ([2, 3, 2], 2, 2, 2, 3), ([4, 4, 4], 4, 4, 4, 4), ([2, 2, 2], 3, 3, 4, 3),
    ([1, 1, 1], 1, 1, 1, 1), ([2, 2, 2], 3, 2, 1, 2), ([1, 2, 1], 1, 1, 1, 1),
    ([1, 1, 1], 2, 1, 1, 1), ([1, 1, 1], 1, 1, 1, 1), ([1, 1, 1], 1, 1, 1, 1),
    ([2, 2, 2], 2, 2, 2, 1), ([2, 2, 2], 1, 3, 2, 2), ([2, 2, 2], 2, 2, 2, 2),
    ([2, 2, 2], 2, 2, 2, 1), ([2, 2, 2], 3, 2, 2, 2), ([2, 2, 1], 2, 2, 2, 2),
    ([1, 1, 1], 1, 1, 1, 1), ([1, 1, 1], 1, 1, 1, 1), ([2, 3, 2], 2, 2, 2, 2),
    ([1, 1, 1], 1, 1, 1, 1), ([1, 1, 1], 1, 1, 1, 1), ([1, 1, 2], 1, 1, 2, 1),
    ([1, 1, 1], 1, 1, 1, 1), ([3, 3, 3], 3, 2, 3, 3), ([1, 1, 1], 1, 1, 1, 1),
    ([2, 2, 2], 2, 2, 2, 2), ([2, 2, 2], 3, 2, 3, 2), ([4, 3, 3], 4, 3, 4, 3),
    ([2, 2, 1], 2, 2, 3, 2), ([2, 3, 2], 3, 2, 3, 3), ([3, 3, 3], 3, 4, 3, 2),
    ([1, 1, 1], 1, 1, 1, 1), ([1, 1, 1], 1, 1, 1, 1), ([1, 2, 1], 2, 1, 1, 1),
    ([2, 3, 2], 2, 2, 2, 2), ([1, 2, 1], 1, 1, 1, 1), ([2, 2, 2], 2, 2, 2, 2),
]  # fmt: skip


def table_1_counts() -> np.ndarray:
    counts = np.zeros((45, 5, 4))
    for i, (first, *others) in enumerate(TABLE_1):
        for rating in first:
            counts[i, 0, rating - 1] += 1
        for j, rating in enumerate(others, start=1):
            counts[i, j, rating - 1] += 1
    return counts


def paper_em(counts: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Equations 3.1, 2.3, 2.4 and 2.5 of the paper, transcribed loop by loop."""
    n_i, n_j, n_k = counts.shape
    t = np.zeros((n_i, n_k))
    for i in range(n_i):  # (3.1): each patient's share of ratings in each class
        t[i] = counts[i].sum(axis=0) / counts[i].sum()
    for _ in range(iterations):
        p = np.array([t[:, k].sum() / n_i for k in range(n_k)])  # (2.4)
        pi = np.zeros((n_j, n_k, n_k))
        for j in range(n_j):  # (2.3)
            for k in range(n_k):
                den = sum(t[i, k] * counts[i, j, :].sum() for i in range(n_i))
                for ell in range(n_k):
                    pi[j, k, ell] = sum(t[i, k] * counts[i, j, ell] for i in range(n_i)) / den
        for i in range(n_i):  # (2.5)
            for k in range(n_k):
                t[i, k] = p[k] * np.prod(
                    [pi[j, k, ell] ** counts[i, j, ell] for j in range(n_j) for ell in range(n_k)]
                )
            t[i] /= t[i].sum()
    return p, pi


def test_the_em_is_the_papers_on_the_papers_data() -> None:
    counts = table_1_counts()
    assert counts.sum() == 45 * 7
    result = dawid_skene(counts, max_iter=30, tol=0.0)
    p, pi = paper_em(counts, 30)
    np.testing.assert_allclose(result.class_shares, p, atol=1e-9)
    np.testing.assert_allclose(result.confusion, pi, atol=1e-9)
    assert result.class_shares.sum() == pytest.approx(1.0)
    assert np.allclose(result.confusion.sum(axis=2), 1.0)
    # The anaesthetists mostly agree: every class is there, and the commonest is 1 or 2.
    assert result.class_shares.argmax() in (0, 1) and (result.class_shares > 0.01).all()


def test_the_likelihood_never_decreases() -> None:
    counts = table_1_counts()
    values = [dawid_skene(counts, max_iter=n, tol=0.0).log_likelihood for n in range(1, 25)]
    assert all(b >= a - 1e-9 for a, b in zip(values, values[1:], strict=False))


def test_simulated_reviewers_confusion_matrices_are_recovered_and_known_items_clamped() -> None:
    rng = np.random.default_rng(3)
    true = np.array(
        [
            [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]],
            [[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]],
            [[0.95, 0.03, 0.02], [0.02, 0.95, 0.03], [0.02, 0.03, 0.95]],
        ]
    )
    n_items = 3000
    classes = rng.choice(3, size=n_items, p=[0.5, 0.3, 0.2])
    counts = np.zeros((n_items, 3, 3))
    for i, k in enumerate(classes):
        for j in range(3):
            counts[i, j, rng.choice(3, p=true[j, k])] += 1
    known = np.where(rng.random(n_items) < 0.05, classes, -1)
    result = dawid_skene(counts, known=known)
    assert np.abs(result.confusion - true).max() < 0.04
    assert np.abs(result.class_shares - [0.5, 0.3, 0.2]).max() < 0.03
    rows = known >= 0
    assert (result.posterior[rows].argmax(axis=1) == classes[rows]).all()
    soft = soft_counts(result, counts)
    assert soft.sum() == pytest.approx(counts.sum())


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        dawid_skene(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        dawid_skene(np.ones((2, 1, 2)), known=np.array([0, 5]))
