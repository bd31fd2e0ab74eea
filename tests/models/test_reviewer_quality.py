"""Each reviewer's accuracy on answers of known truth, the flag, and what several votes on one
audit item say of reviewers through Dawid & Skene's EM."""

from __future__ import annotations

import numpy as np
import pytest

from models.reviewer_quality import (
    MIN_CHECKED,
    Check,
    cross_checks,
    flagged_reviewers,
    reviewer_accuracy,
)


def test_accuracy_has_a_wilson_interval_and_counts_its_sources() -> None:
    checks = [
        Check("U1", "fraud", "fraud", 40),
        Check("U1", "legit", "fraud", 2, source="outcome", audit_like=False),
    ]
    ((user, a),) = reviewer_accuracy(checks, min_accuracy=0.8).items()
    assert user == "U1" and a.estimate.n == 42 and a.control == 40 and a.outcomes == 2
    assert a.estimate.value == pytest.approx(40 / 42)
    assert a.estimate.low < a.estimate.value < a.estimate.high
    assert not a.flagged
    assert a.as_dict()["flagged"] is False and a.as_dict()["control"] == 40


def test_flagged_when_even_the_upper_bound_is_under_the_bar() -> None:
    bad = [Check("BAD", "legit", "legit", 5), Check("BAD", "legit", "fraud", 15)]
    unlucky = [Check("NEW", "legit", "fraud", 3)]  # 0 right of 3: too few to say
    borderline = [Check("MID", "legit", "legit", 14), Check("MID", "legit", "fraud", 6)]
    accuracy = reviewer_accuracy(bad + unlucky + borderline, min_accuracy=0.8)
    assert accuracy["BAD"].flagged and accuracy["BAD"].estimate.high < 0.8
    assert not accuracy["NEW"].flagged and accuracy["NEW"].estimate.n < MIN_CHECKED
    assert not accuracy["MID"].flagged  # 70% observed, but 80% is within its interval
    assert flagged_reviewers(accuracy) == {"BAD"}
    assert flagged_reviewers(reviewer_accuracy(bad, min_accuracy=0.0)) == frozenset()


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        reviewer_accuracy([], min_accuracy=1.5)
    with pytest.raises(ValueError):
        reviewer_accuracy([Check("U", "a", "a", 1, source="rumour")], min_accuracy=0.8)


def test_audits_answered_by_several_reviewers_measure_them_through_dawid_skene() -> None:
    """Three reviewers vote on 600 audit items: one of them is wrong 30% of the time. A few
    control answers say which label is which; the disagreements do the rest."""
    rng = np.random.default_rng(0)
    labels = ["legit", "fraud"]
    errors = {"A": 0.02, "B": 0.05, "C": 0.3}
    votes = {}
    for item in range(600):
        truth = 1 if rng.random() < 0.3 else 0
        votes[item] = [
            (user, labels[1 - truth] if rng.random() < error else labels[truth])
            for user, error in errors.items()
        ]
    known = [Check("A", "legit", "legit", 10), Check("A", "fraud", "fraud", 10)]
    soft = cross_checks(votes, known, labels)
    assert {c.source for c in soft} == {"cross_checked"}
    for user, error in errors.items():
        mine = [c for c in soft if c.user == user]
        wrong = sum(c.count for c in mine if c.answer != c.truth) / sum(c.count for c in mine)
        assert wrong == pytest.approx(error, abs=0.04), user
    # Inferred truth never flags anyone: flags rest on known truth only.
    assert reviewer_accuracy(soft, min_accuracy=0.8) == {}
