"""The accuracy of automatic decisions corrected for reviewer error: exact on expected counts,
per-reviewer rates, more than two labels, who is left out, and a seeded coverage simulation."""

from __future__ import annotations

import numpy as np
import pytest

from models.corrected_accuracy import (
    MIN_CONTROL,
    AuditVote,
    corrected_accuracy,
    informativeness,
    reviewer_matrices,
)
from models.estimates import Estimate
from models.reviewer_quality import Check

BINARY = ["legit", "fraud"]


def checks(user: str, truth: str, right: int, wrong: int, labels=BINARY) -> list[Check]:
    other = next(label for label in labels if label != truth)
    return [Check(user, truth, truth, right), Check(user, truth, other, wrong)]


def test_rogan_gladen_on_expected_counts() -> None:
    """Reviewers with sensitivity 0.9 and specificity 0.95 (measured on 20,000 control answers,
    so the prior is negligible) audit decisions that are right 98% of the time (all predicted
    legit). They agree with the model on 0.98 x 0.95 + 0.02 x 0.10 = 0.933 of audits; the
    correction gives back 0.98: (0.933 - 1 + Se) / (Se + Sp - 1)."""
    control = checks("U1", "legit", 9500, 500) + checks("U1", "fraud", 9000, 1000)
    agree = 0.98 * 0.95 + 0.02 * 0.10
    audits = [
        AuditVote("U1", "legit", "legit", 0.02, round(agree * 10_000)),
        AuditVote("U1", "legit", "fraud", 0.02, round((1 - agree) * 10_000)),
    ]
    result = corrected_accuracy(audits, control, BINARY, replicates=200)
    assert result.corrected and result.control_answers == 20_000
    assert result.estimate.value == pytest.approx(0.98, abs=0.002)
    raw = (agree * 10_000) / 10_000
    assert raw < result.estimate.low <= 0.98 <= result.estimate.high
    assert result.note == "corrected for reviewer error measured on 20,000 control answers"


def test_each_answer_is_corrected_with_its_own_reviewers_rates() -> None:
    """A careful reviewer (1% error) and a careless one (15%) audit the same kind of decisions;
    pooling their rates would over-correct one and under-correct the other."""
    control = checks("U1", "legit", 990, 10) + checks("U2", "legit", 850, 150)
    control += checks("U1", "fraud", 990, 10) + checks("U2", "fraud", 850, 150)
    truth = 0.97
    audits = []
    for user, error in (("U1", 0.01), ("U2", 0.15)):
        agree = truth * (1 - error) + (1 - truth) * error
        audits += [
            AuditVote(user, "legit", "legit", 0.05, round(agree * 5000)),
            AuditVote(user, "legit", "fraud", 0.05, round((1 - agree) * 5000)),
        ]
    result = corrected_accuracy(audits, control, BINARY, replicates=100)
    assert result.estimate.value == pytest.approx(truth, abs=0.003)


def test_more_labels_solve_the_confusion_matrix_model() -> None:
    labels = ["a", "b", "c"]
    confusion = np.array([[0.9, 0.06, 0.04], [0.1, 0.85, 0.05], [0.05, 0.05, 0.9]])
    control = [
        Check("U1", labels[k], labels[j], int(confusion[k, j] * 10_000))
        for k in range(3)
        for j in range(3)
    ]
    # Decisions labelled "a": 90% truly a, 6% b, 4% c.
    truth = np.array([0.9, 0.06, 0.04])
    observed = truth @ confusion
    audits = [AuditVote("U1", "a", labels[j], 0.02, int(observed[j] * 20_000)) for j in range(3)]
    result = corrected_accuracy(audits, control, labels, replicates=100)
    assert result.estimate.value == pytest.approx(0.9, abs=0.003)
    raw = observed[0]
    assert abs(raw - 0.9) > 0.05  # what the uncorrected figure would say


def test_strata_are_weighted_by_the_known_mix_of_automatic_decisions() -> None:
    control = checks("U1", "legit", 2000, 0) + checks("U1", "fraud", 2000, 0)
    audits = [
        AuditVote("U1", "legit", "legit", 0.02, 99),
        AuditVote("U1", "legit", "fraud", 0.02, 1),
        AuditVote("U1", "fraud", "fraud", 0.02, 50),
        AuditVote("U1", "fraud", "legit", 0.02, 50),
    ]
    mixed = corrected_accuracy(audits, control, BINARY, population={"legit": 99, "fraud": 1})
    assert mixed.estimate.value == pytest.approx(0.99 * 0.99 + 0.01 * 0.5, abs=0.002)
    by_audits = corrected_accuracy(audits, control, BINARY)
    assert by_audits.estimate.value == pytest.approx((99 + 50) / 200, abs=0.002)


def test_too_few_control_answers_give_the_raw_figure_and_say_so() -> None:
    control = checks("U1", "legit", MIN_CONTROL - 6, 5)
    audits = [AuditVote("U1", "legit", "legit", 0.5, 9), AuditVote("U1", "legit", "fraud", 0.5, 1)]
    result = corrected_accuracy(audits, control, BINARY)
    assert not result.corrected
    assert result.estimate.value == pytest.approx(0.9)
    expected = f"{MIN_CONTROL - 1} control answers so far, {MIN_CONTROL} needed"
    assert result.note == f"not corrected for reviewer error: {expected}"
    assert corrected_accuracy([], control, BINARY).estimate == Estimate.unmeasured()


def test_flagged_and_coin_flipping_reviewers_are_left_out_never_divided_by() -> None:
    control = checks("U1", "legit", 300, 3) + checks("U1", "fraud", 30, 1)
    control += checks("COIN", "legit", 50, 50) + checks("COIN", "fraud", 25, 25)
    control += checks("BAD", "legit", 40, 60)
    audits = [
        AuditVote("U1", "legit", "legit", 0.02, 99),
        AuditVote("U1", "legit", "fraud", 0.02, 1),
        AuditVote("COIN", "legit", "fraud", 0.02, 50),
        AuditVote("BAD", "legit", "fraud", 0.02, 70),
    ]
    result = corrected_accuracy(audits, control, BINARY, exclude={"BAD"})
    assert result.excluded_reviewers == ("BAD", "COIN")
    assert result.excluded_answers == 120
    assert result.estimate.n == 100 and result.estimate.value > 0.98
    assert "120 audit answers of flagged reviewers left out" in result.note


def test_rates_are_shrunk_a_perfect_record_is_not_never_wrong() -> None:
    counts = np.zeros((2, 2, 2))
    counts[0] = [[10, 0], [0, 10]]  # 20 right answers of 20
    counts[1] = [[900, 100], [100, 900]]  # the others: 90%
    matrices = reviewer_matrices(counts)
    assert 0.9 < matrices[0, 0, 0] < 1.0
    assert informativeness(matrices[0]) < 1.0
    assert np.allclose(matrices.sum(axis=2), 1.0)
    draws = reviewer_matrices(counts, rng=np.random.default_rng(0), replicates=50)
    assert draws.shape == (50, 2, 2, 2) and np.allclose(draws.sum(axis=3), 1.0)
    assert draws[:, 0, 0, 0].std() > 0.005  # the uncertainty of 20 answers shows


def test_all_audits_agreeing_still_give_an_interval_not_a_point() -> None:
    control = checks("U1", "legit", 200, 0) + checks("U1", "fraud", 20, 0)
    audits = [AuditVote("U1", "legit", "legit", 0.02, 60)]
    estimate = corrected_accuracy(audits, control, BINARY).estimate
    assert estimate.value == 1.0 and estimate.high == 1.0
    assert 0.9 < estimate.low < 0.99


def _simulate(seed: int, error: float, bad: bool) -> tuple[float, Estimate, Estimate]:
    """300 audits of decisions right 99% of the time (98% predicted legit), 200 control
    answers, three reviewers wrong ``error`` of the time (one always wrong if ``bad``)."""
    rng = np.random.default_rng(seed)
    users = ("A", "B", "C")

    def answer(user: str, truth: str) -> str:
        wrong = rng.random() < (1.0 if bad and user == "C" else error)
        return BINARY[1 - BINARY.index(truth)] if wrong else truth

    audits, control = [], []
    for _ in range(300):
        predicted = "fraud" if rng.random() < 0.02 else "legit"
        right = rng.random() < (0.9 if predicted == "fraud" else 0.992)
        truth = predicted if right else BINARY[1 - BINARY.index(predicted)]
        user = users[rng.integers(3)]
        audits.append(AuditVote(user, predicted, answer(user, truth), 0.02))
    for _ in range(200):
        truth = "fraud" if rng.random() < 0.05 else "legit"
        user = users[rng.integers(3)]
        control.append(Check(user, truth, answer(user, truth)))
    population = {"legit": 0.98, "fraud": 0.02}
    true_accuracy = 0.98 * 0.992 + 0.02 * 0.9
    result = corrected_accuracy(
        audits,
        control,
        BINARY,
        exclude={"C"} if bad else set(),
        population=population,
        replicates=400,
        random_state=seed,
    )
    raw = corrected_accuracy(audits, [], BINARY, exclude={"C"} if bad else set()).estimate
    return true_accuracy, result.estimate, raw


@pytest.mark.parametrize(
    ("error", "bad"), [(0.0, False), (0.05, False), (0.1, False), (0.05, True)]
)
def test_coverage_of_the_interval_in_a_seeded_simulation(error: float, bad: bool) -> None:
    """The interval holds the true accuracy in about 95% of 120 simulated queues, at 0, 5 and
    10% reviewer error and with one reviewer in three always wrong (flagged). The raw agreement
    misses it in most of them as soon as reviewers err."""
    covered, raw_covered, errors = [], [], []
    for seed in range(120):
        truth, estimate, raw = _simulate(seed, error, bad)
        assert estimate.low is not None and estimate.high is not None and estimate.value
        covered.append(estimate.low <= truth <= estimate.high)
        errors.append(abs(estimate.value - truth))
        assert raw.low is not None and raw.high is not None
        raw_covered.append(raw.low <= truth <= raw.high)
    assert np.mean(covered) >= 0.9, np.mean(covered)
    assert np.mean(errors) <= 0.02
    if error >= 0.05:
        assert np.mean(raw_covered) < 0.5
