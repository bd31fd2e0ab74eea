"""Honest accuracy figures: weighted estimates from audit answers, and agreement statistics.

People only see two kinds of items: the uncertain ones (always) and a random audit sample of the
confident ones (each with the queue's ``audit_rate``). The automatic decisions are the confident
items nobody saw, so their accuracy can only be *estimated*, from the audit answers. Each audit
answer stands for ``1 / sampling_probability`` confident items (Horvitz–Thompson weights); the
estimate is the Hájek ratio ``sum(w * correct) / sum(w)``, which stays unbiased (to first order)
when ``audit_rate`` changed during the period and needs no population count.

The 95% interval is a Wilson score interval on an *effective* sample size, the way Korn &
Graubard treat survey proportions: ``n* = p(1-p) / var``, with ``var`` the linearized variance of
the ratio estimator, capped at the number of answers ``n``. With equal weights (the usual case:
one ``audit_rate`` per queue) ``n* == n`` and this is the textbook Wilson interval; with unequal
weights it widens when the errors sit on heavily weighted answers, which Kish's
``(sum w)**2 / sum(w**2)`` alone cannot see. When every answer agrees (``p`` is 0 or 1, the
variance is 0) Kish's size is used. Wilson rather than the plain normal interval because
accuracies of automatic decisions sit near 1, where the normal interval collapses to zero width
after a run of correct answers ("100% ± 0%" from 30 audits); Wilson still says "at least 89%".
Seeded simulations in ``tests/models/test_estimates.py`` check its coverage.

Nothing here invents a number: with no answers an ``Estimate`` has ``n == 0`` and ``None``
values, which the digest shows as "not measured", never as 0%.

Audit answers are what reviewers said, so the estimate here measures agreement with reviewers:
when reviewers err, accuracy is underestimated by about their error rate. The figure people read
is corrected for that (``models.corrected_accuracy``, with each reviewer's error measured on
control items and outcomes in ``models.reviewer_quality``); this one is kept as the raw
agreement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A proportion with its 95% interval; all ``None`` when ``n == 0`` ("not measured")."""

    value: float | None
    low: float | None
    high: float | None
    #: Answers the estimate rests on.
    n: int

    @classmethod
    def unmeasured(cls) -> Estimate:
        return cls(value=None, low=None, high=None, n=0)


@dataclass(frozen=True)
class AuditAnswer:
    """One answered audit item: the model's label, the people's label, and how it was drawn."""

    predicted: str
    truth: str
    #: Probability that this item was sent to people (the queue's ``audit_rate`` at the time).
    sampling_probability: float


def wilson_interval(p: float, n: float, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` observed on (effectively) ``n`` trials."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be within [0, 1], got {p!r}")
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def weighted_proportion(hits: Sequence[bool], weights: Sequence[float]) -> Estimate:
    """Hájek estimate of a proportion from weighted observations, with a 95% Wilson interval.

    ``weights`` are inverse sampling probabilities (any positive scale works: only ratios
    matter). See the module docstring for the effective sample size.
    """
    if len(hits) != len(weights):
        raise ValueError(f"{len(hits)} observations but {len(weights)} weights")
    n = len(hits)
    if n == 0:
        return Estimate.unmeasured()
    if any(not (w > 0 and math.isfinite(w)) for w in weights):
        raise ValueError("weights must be positive and finite")
    total = math.fsum(weights)
    p = min(1.0, max(0.0, math.fsum(w for h, w in zip(hits, weights, strict=True) if h) / total))
    kish = total * total / math.fsum(w * w for w in weights)
    n_eff = kish
    if 0.0 < p < 1.0:
        # Linearized variance of the ratio estimator (with-replacement approximation); with
        # equal weights it is p(1-p)/n, so n* == n and the interval is the textbook Wilson one.
        residuals = math.fsum(
            (w * ((1.0 if h else 0.0) - p)) ** 2 for h, w in zip(hits, weights, strict=True)
        )
        variance = residuals / (total * total)
        if variance > 0:
            n_eff = min(float(n), p * (1 - p) / variance)
    low, high = wilson_interval(p, n_eff)
    return Estimate(value=p, low=min(low, p), high=max(high, p), n=n)


def _check_probability(answer: AuditAnswer) -> float:
    p = answer.sampling_probability
    if not 0.0 < p <= 1.0:
        raise ValueError(f"sampling_probability must be within (0, 1], got {p!r}")
    return 1.0 / p


def automatic_accuracy(audits: Sequence[AuditAnswer]) -> Estimate:
    """Accuracy of the automatic decisions, estimated from the audit sample.

    Pass the answers of items routed to *audit* only: an item below ``review_below`` was always
    shown to people and says nothing about the decisions nobody saw.
    """
    weights = [_check_probability(a) for a in audits]
    return weighted_proportion([a.predicted == a.truth for a in audits], weights)


def positive_precision_recall(
    audits: Sequence[AuditAnswer], positive: str
) -> tuple[Estimate, Estimate]:
    """(precision, recall) of the automatic decisions for the ``positive`` label.

    Precision: of the items the model called ``positive``, the weighted share that were.
    Recall: of the items that were ``positive``, the weighted share the model called so. Each
    rests only on the audits in its denominator, so either can be unmeasured on its own.
    """
    weights = [_check_probability(a) for a in audits]
    called = [(a, w) for a, w in zip(audits, weights, strict=True) if a.predicted == positive]
    actual = [(a, w) for a, w in zip(audits, weights, strict=True) if a.truth == positive]
    precision = weighted_proportion(
        [a.truth == positive for a, _ in called], [w for _, w in called]
    )
    recall = weighted_proportion(
        [a.predicted == positive for a, _ in actual], [w for _, w in actual]
    )
    return precision, recall


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from an items × categories table of rating counts.

    Every item must have been rated by the same number of raters (at least two). ``None`` when
    the table is empty or every rating falls in one category (kappa is 0/0).
    """
    if not table:
        return None
    raters = {sum(row) for row in table}
    if len(raters) != 1:
        raise ValueError(f"every item needs the same number of ratings, got {sorted(raters)}")
    m = raters.pop()
    if m < 2:
        raise ValueError(f"Fleiss' kappa needs at least 2 ratings per item, got {m}")
    if any(count < 0 for row in table for count in row):
        raise ValueError("rating counts must not be negative")
    n_items = len(table)
    per_item = [(sum(c * c for c in row) - m) / (m * (m - 1)) for row in table]
    p_bar = sum(per_item) / n_items
    shares = [sum(col) / (n_items * m) for col in zip(*table, strict=True)]
    p_e = sum(s * s for s in shares)
    if math.isclose(p_e, 1.0):
        return None
    return (p_bar - p_e) / (1 - p_e)


def rating_table(
    votes_per_item: Sequence[Sequence[str]], categories: Sequence[str]
) -> list[list[int]]:
    """Items × categories counts for ``fleiss_kappa`` from each item's list of labels."""
    index = {c: j for j, c in enumerate(categories)}
    table = []
    for labels in votes_per_item:
        row = [0] * len(categories)
        for label in labels:
            if label not in index:
                raise ValueError(f"label {label!r} is not one of {list(categories)}")
            row[index[label]] += 1
        table.append(row)
    return table
