"""Accuracy estimates from weighted audits, their intervals, and agreement statistics."""

from __future__ import annotations

import numpy as np
import pytest

from models.estimates import (
    AuditAnswer,
    Estimate,
    automatic_accuracy,
    fleiss_kappa,
    positive_precision_recall,
    rating_table,
    weighted_proportion,
    wilson_interval,
)

# A small known sample: audits drawn with different probabilities (audit_rate changed mid-week,
# and a 1.0 for good measure), so each stands for 1/p items of the automatic traffic.
SAMPLE = [
    AuditAnswer(predicted="legit", truth="legit", sampling_probability=0.5),
    AuditAnswer(predicted="legit", truth="fraud", sampling_probability=0.25),
    AuditAnswer(predicted="fraud", truth="fraud", sampling_probability=0.2),
    AuditAnswer(predicted="fraud", truth="legit", sampling_probability=0.5),
    AuditAnswer(predicted="legit", truth="legit", sampling_probability=0.1),
    AuditAnswer(predicted="legit", truth="legit", sampling_probability=1.0),
    AuditAnswer(predicted="fraud", truth="fraud", sampling_probability=0.25),
]


def _expanded(audits: list[AuditAnswer]) -> list[tuple[str, str]]:
    """Brute force: each answer repeated 1/p times, as if every item it stands for were seen."""
    copies = []
    for a in audits:
        repeat = round(1 / a.sampling_probability)
        assert repeat == pytest.approx(1 / a.sampling_probability)
        copies.extend([(a.predicted, a.truth)] * repeat)
    return copies


def test_weighted_accuracy_equals_brute_force_expansion() -> None:
    copies = _expanded(SAMPLE)
    brute = sum(p == t for p, t in copies) / len(copies)
    estimate = automatic_accuracy(SAMPLE)
    assert estimate.value == pytest.approx(brute)
    assert estimate.n == len(SAMPLE)
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    assert 0.0 <= estimate.low <= estimate.value <= estimate.high <= 1.0
    # Weighting matters on this sample: the unweighted share is different.
    assert brute != pytest.approx(sum(a.predicted == a.truth for a in SAMPLE) / len(SAMPLE))


def test_weighted_precision_and_recall_equal_brute_force_expansion() -> None:
    copies = _expanded(SAMPLE)
    called = [t for p, t in copies if p == "fraud"]
    actual = [p for p, t in copies if t == "fraud"]
    precision, recall = positive_precision_recall(SAMPLE, positive="fraud")
    assert precision.value == pytest.approx(called.count("fraud") / len(called))
    assert recall.value == pytest.approx(actual.count("fraud") / len(actual))
    assert precision.n == sum(a.predicted == "fraud" for a in SAMPLE)
    assert recall.n == sum(a.truth == "fraud" for a in SAMPLE)


def test_no_answers_is_not_measured_never_zero() -> None:
    assert automatic_accuracy([]) == Estimate(value=None, low=None, high=None, n=0)
    only_legit = [AuditAnswer("legit", "legit", 0.02)] * 5
    precision, recall = positive_precision_recall(only_legit, positive="fraud")
    assert precision == Estimate.unmeasured()
    assert recall == Estimate.unmeasured()


def test_equal_weights_give_the_textbook_wilson_interval() -> None:
    # 9 correct of 10 audits at the same rate: Wilson 95% interval [0.5958, 0.9821].
    audits = [AuditAnswer("a", "a", 0.02)] * 9 + [AuditAnswer("a", "b", 0.02)]
    estimate = automatic_accuracy(audits)
    assert estimate.value == pytest.approx(0.9)
    assert estimate.low == pytest.approx(0.5958, abs=1e-4)
    assert estimate.high == pytest.approx(0.9821, abs=1e-4)
    assert wilson_interval(0.9, 10) == pytest.approx((estimate.low, estimate.high))


def test_all_correct_still_has_an_honest_lower_bound() -> None:
    estimate = automatic_accuracy([AuditAnswer("a", "a", 0.05)] * 30)
    assert estimate.value == 1.0
    assert estimate.high == 1.0
    assert estimate.low == pytest.approx(30 / (30 + 1.959963984540054**2))


@pytest.mark.parametrize(
    "audits",
    [
        [AuditAnswer("a", "a", 0.0)],
        [AuditAnswer("a", "a", 1.5)],
        [AuditAnswer("a", "a", -0.1)],
    ],
)
def test_impossible_sampling_probabilities_are_refused(audits: list[AuditAnswer]) -> None:
    with pytest.raises(ValueError):
        automatic_accuracy(audits)


def test_weighted_proportion_checks_its_input() -> None:
    with pytest.raises(ValueError):
        weighted_proportion([True, False], [1.0])
    with pytest.raises(ValueError):
        weighted_proportion([True], [0.0])


@pytest.mark.parametrize("weight_with_errors", ["heavy", "light"])
def test_interval_covers_the_true_accuracy_about_95_percent_of_the_time(
    weight_with_errors: str,
) -> None:
    """Seeded simulation: a fixed week of confident items, audited 400 times over.

    Two audit rates (2% and 10%, the queue was reconfigured), and the model's errors depend on
    the rate, so the weights matter: either the errors sit on the heavily weighted items or on
    the light ones.
    """
    rng = np.random.default_rng(20240601)
    n_items = 20_000
    rate = np.where(rng.random(n_items) < 0.5, 0.02, 0.10)
    heavy = rate == 0.02
    error_prob = (
        np.where(heavy, 0.10, 0.03)
        if weight_with_errors == "heavy"
        else np.where(heavy, 0.03, 0.10)
    )
    correct = rng.random(n_items) >= error_prob
    true_accuracy = correct.mean()
    covered = 0
    errors = []
    reps = 400
    for _ in range(reps):
        drawn = np.flatnonzero(rng.random(n_items) < rate)
        audits = [
            AuditAnswer("x", "x" if correct[i] else "y", float(rate[i])) for i in drawn.tolist()
        ]
        estimate = automatic_accuracy(audits)
        assert estimate.value is not None and estimate.low is not None
        assert estimate.high is not None
        covered += estimate.low <= true_accuracy <= estimate.high
        errors.append(estimate.value - true_accuracy)
    assert 0.90 <= covered / reps <= 0.99
    assert abs(np.mean(errors)) < 0.003  # unbiased, up to simulation noise


def test_interval_coverage_with_few_audits_and_high_accuracy() -> None:
    """The hard case for intervals: ~40 audits of a 97%-accurate model."""
    rng = np.random.default_rng(7)
    n_items = 2_000
    correct = rng.random(n_items) >= 0.03
    covered = 0
    reps = 400
    for _ in range(reps):
        drawn = np.flatnonzero(rng.random(n_items) < 0.02)
        audits = [AuditAnswer("x", "x" if correct[i] else "y", 0.02) for i in drawn.tolist()]
        estimate = automatic_accuracy(audits)
        assert estimate.low is not None and estimate.high is not None
        covered += estimate.low <= correct.mean() <= estimate.high
    assert 0.90 <= covered / reps <= 0.995


def test_fleiss_kappa_textbook_example() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories; kappa = 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    # By hand: P-bar = 688 / 1820 (mean pairwise agreement per item), P-e = 4170 / 19600
    # (category totals 20, 28, 39, 21, 32 of 140 ratings).
    p_bar, p_e = 688 / 1820, 4170 / 19600
    assert fleiss_kappa(table) == pytest.approx((p_bar - p_e) / (1 - p_e))
    assert fleiss_kappa(table) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_edges() -> None:
    assert fleiss_kappa([]) is None
    assert fleiss_kappa([[3, 0], [3, 0]]) is None
    assert fleiss_kappa([[3, 0], [0, 3]]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        fleiss_kappa([[2, 0], [1, 2]])  # items rated by different numbers of people
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 0], [0, 1]])  # one rater is no agreement


def test_rating_table_counts_votes_per_category() -> None:
    table = rating_table([["good", "good", "bad"], ["bad", "bad", "bad"]], ["good", "bad"])
    assert table == [[2, 1], [0, 3]]
    with pytest.raises(ValueError):
        rating_table([["maybe"]], ["good", "bad"])
