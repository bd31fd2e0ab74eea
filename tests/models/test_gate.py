"""The promotion gate: corrupted answers are refused, more good data is promoted, several
metrics judge, a noisy metric on a small slice is named and set aside, and no slow ratchet."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, average_precision_score, f1_score

from models.bootstrap import paired_bootstrap_noise
from models.evaluation import fit, split_holdout
from models.gate import (
    Slice,
    decide,
    evaluate_slice,
    gate_metrics,
    measure_slice,
    primary_metric,
    too_noisy,
)

LABELS = ["benign", "malignant"]


def _trusted(candidate: float | None, current: float | None, n: int = 100) -> Slice:
    return Slice(name="trusted_holdout", candidate=candidate, current=current, n=n)


def test_not_worse_on_every_slice_is_promoted() -> None:
    decision = decide(
        [
            _trusted(0.930, 0.912),
            Slice(name="recent_labels", candidate=0.801, current=0.805, n=60),
        ]
    )
    assert decision.promote
    assert "average_precision on trusted_holdout 0.912 → 0.930" in decision.reason
    assert len(decision.slices) == 2


def test_a_drop_beyond_tolerance_on_the_trusted_holdout_rejects_with_a_readable_reason() -> None:
    decision = decide([_trusted(0.850, 0.912)])
    assert not decision.promote
    assert "average_precision on trusted_holdout fell 0.912 → 0.850" in decision.reason


def test_a_drop_on_any_measured_slice_rejects() -> None:
    decision = decide(
        [_trusted(0.95, 0.94), Slice(name="outcomes", candidate=0.70, current=0.80, n=25)]
    )
    assert not decision.promote
    assert decision.reason.startswith("average_precision on outcomes fell 0.800 → 0.700")


def test_drop_of_exactly_the_tolerance_passes() -> None:
    assert decide([_trusted(0.84, 0.85)], tolerance=0.01).promote
    assert not decide([_trusted(0.8399, 0.85)], tolerance=0.01).promote


@pytest.mark.parametrize(
    ("slices", "why"),
    [
        ([], "no trusted_holdout slice"),
        ([Slice(name="recent_labels", candidate=0.9, current=0.5, n=500)], "no trusted_holdout"),
        ([_trusted(0.99, 0.5, n=19)], "19 examples, fewer than 20"),
        ([_trusted(None, None)], "no metric can be judged on trusted_holdout"),
    ],
)
def test_the_trusted_holdout_is_mandatory(slices: list[Slice], why: str) -> None:
    decision = decide(slices)
    assert not decision.promote
    assert why in decision.reason


def test_small_or_unmeasurable_other_slices_are_skipped_and_named() -> None:
    decision = decide(
        [
            _trusted(0.9, 0.9),
            Slice(name="recent_labels", candidate=0.1, current=0.9, n=5),
            Slice(name="outcomes", candidate=None, current=None, n=40),
        ]
    )
    assert decision.promote
    assert "recent_labels skipped: 5 examples" in decision.reason
    assert "average_precision on outcomes not judged: undefined" in decision.reason


def test_first_model_has_no_current_value_to_beat() -> None:
    decision = decide([_trusted(0.7, None)])
    assert decision.promote
    assert "no current value" in decision.reason


def test_lower_is_better_metrics_are_compared_the_other_way() -> None:
    def loss(candidate: float, current: float) -> Slice:
        return replace(_trusted(candidate, current), metric="log_loss")

    decision = decide([loss(0.40, 0.30)])
    assert not decision.promote
    assert "log_loss on trusted_holdout rose 0.300 → 0.400" in decision.reason
    assert decide([loss(0.25, 0.30)]).promote


@pytest.mark.parametrize(
    ("slices", "kwargs"),
    [
        ([_trusted(1, 1), _trusted(1, 1)], {}),
        ([Slice(name="yesterday", candidate=1, current=1, n=50)], {}),
        ([_trusted(1, 1)], {"tolerance": -0.1}),
        ([replace(_trusted(1, 1), metric="precision_at_10")], {}),
    ],
)
def test_malformed_input_is_refused(slices: list[Slice], kwargs: dict) -> None:
    with pytest.raises(ValueError):
        decide(slices, **kwargs)


def test_primary_metric_by_number_of_labels() -> None:
    assert primary_metric(["legit", "fraud"]) == "average_precision"
    assert primary_metric(["good", "bad", "unsure"]) == "macro_f1"
    assert gate_metrics(["legit", "fraud"]) == ("brier", "accuracy", "average_precision")
    assert gate_metrics(["good", "bad", "unsure"]) == ("brier", "accuracy", "macro_f1")
    with pytest.raises(ValueError):
        primary_metric(["only"])


def test_the_reported_small_holdout_case_is_rejected_on_accuracy_and_log_loss() -> None:
    """The figures of the report: a 30-row trusted hold-out with 2 positives, a candidate
    trained on answers that were all wrong. Average precision rose by chance and was the only
    metric looked at, so it was promoted."""
    y = ["legit"] * 28 + ["fraud"] * 2
    noisy = too_noisy("average_precision", y, ["legit", "fraud"])
    assert noisy == "2 positives, too few"

    def trusted(metric: str, candidate: float, current: float, unjudged: str | None = None):
        return Slice("trusted_holdout", candidate, current, 30, 0.02, metric, unjudged)

    decision = decide(
        [
            trusted("average_precision", 0.222, 0.173, noisy),
            trusted("accuracy", 0.500, 0.933),
            trusted("log_loss", 0.84, 0.25),
        ]
    )
    assert not decision.promote
    assert "accuracy on trusted_holdout fell 0.933 → 0.500" in decision.reason
    assert "log_loss on trusted_holdout rose 0.250 → 0.840" in decision.reason
    assert "average_precision on trusted_holdout not judged: 2 positives, too few" in (
        decision.reason
    )
    # The one metric the old gate looked at would have let it through.
    assert decide([trusted("average_precision", 0.222, 0.173)]).promote


def test_a_significant_drop_on_any_one_metric_rejects() -> None:
    fine = [
        Slice("trusted_holdout", 0.95, 0.94, 100, 0.01, "average_precision"),
        Slice("trusted_holdout", 0.93, 0.92, 100, 0.01, "accuracy"),
        Slice("trusted_holdout", 0.20, 0.21, 100, 0.01, "log_loss"),
    ]
    assert decide(fine).promote
    worse = [*fine[:2], replace(fine[2], candidate=0.30)]
    decision = decide(worse)
    assert not decision.promote and decision.reason.startswith("log_loss on trusted_holdout")


def test_no_ratchet_twenty_slightly_worse_candidates_in_a_row() -> None:
    """Each candidate is 0.006 worse than the model it challenges (within the 0.01 tolerance):
    judged only against the current model, all 20 go through and the queue drifts 0.12 down.
    Judged also against the best earlier version (the floor), the drift stops within the
    tolerance."""

    def run(with_floor: bool) -> tuple[int, float]:
        best, current, promoted = 0.95, 0.95, 0
        for step in range(20):
            candidate = current - 0.006
            slices = [Slice("trusted_holdout", candidate, current, 40, 0.0, "accuracy")]
            if with_floor and best != current:
                floor = Slice("trusted_holdout", candidate, best, 40, 0.0, "accuracy")
                slices.append(replace(floor, against="fraud-v1"))
            decision = decide(slices)
            if decision.promote:
                current, promoted = candidate, promoted + 1
            else:
                assert "against fraud-v1, the best earlier" in decision.reason, step
        return promoted, current

    assert run(with_floor=False) == (20, pytest.approx(0.95 - 20 * 0.006))
    promoted, final = run(with_floor=True)
    assert promoted == 1 and final >= 0.95 - 0.01


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[list[dict], list[str]]:
    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    payloads = [{"features": dict(zip(names, map(float, row), strict=True))} for row in data.data]
    y = ["malignant" if t == 0 else "benign" for t in data.target]
    return payloads, y


OTHER = {"benign": "malignant", "malignant": "benign"}


def _scenario(
    data: tuple[list[dict], list[str]], seed: int
) -> tuple[list[int], list[int], object, np.random.Generator]:
    """A trusted holdout (30%), the rest shuffled, and a current model trained on 40 rows."""
    payloads, y = data
    rest, holdout = split_holdout(len(y), fraction=0.3, random_state=seed, stratify=y)
    rng = np.random.default_rng(seed)
    rest = rng.permutation(rest)
    current = fit("tabular", [payloads[i] for i in rest[:40]], [y[i] for i in rest[:40]])
    return rest.tolist(), holdout.tolist(), current, rng


def _gate(data, holdout, candidate, current, metrics=("average_precision",)):  # type: ignore[no-untyped-def]
    payloads, y = data
    trusted = measure_slice(
        "trusted_holdout",
        candidate=candidate,
        current=current,
        kind="tabular",
        payloads=[payloads[i] for i in holdout],
        y=[y[i] for i in holdout],
        labels=LABELS,
        metrics=metrics,
    )
    return decide(trusted)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_candidate_from_a_systematically_wrong_reviewer_is_rejected_a_better_one_promoted(
    breast_cancer: tuple[list[dict], list[str]], seed: int
) -> None:
    payloads, y = breast_cancer
    rest, holdout, current, _ = _scenario(breast_cancer, seed)
    # A reviewer wrong on one kind of item: 40% of the training labels flipped, those of the
    # most textured tissue samples, on nine times the data the current model saw.
    texture = np.asarray([payloads[i]["features"]["mean texture"] for i in rest])
    flip = np.argsort(np.argsort(-texture)) < round(0.4 * len(rest))
    corrupted_y = [OTHER[y[i]] if f else y[i] for i, f in zip(rest, flip, strict=True)]
    corrupted = fit("tabular", [payloads[i] for i in rest], corrupted_y)
    better = fit("tabular", [payloads[i] for i in rest], [y[i] for i in rest])

    rejected = _gate(breast_cancer, holdout, corrupted, current)
    assert not rejected.promote
    assert "average_precision on trusted_holdout fell" in rejected.reason
    promoted = _gate(breast_cancer, holdout, better, current)
    assert promoted.promote, promoted.reason
    (trusted,) = promoted.slices
    assert trusted.n == len(holdout)
    assert trusted.candidate is not None and trusted.current is not None
    assert trusted.candidate >= trusted.current


def test_candidates_from_randomly_flipped_labels_are_mostly_rejected(
    breast_cancer: tuple[list[dict], list[str]],
) -> None:
    """40% of labels flipped at random: usually a worse ranking, and then rejected.

    Symmetric noise keeps the sign of the signal, so on some draws the model ranks the holdout
    about as well as the current one does, within the slice's noise, and the gate lets it
    through: it judges the model, not the labels.
    """
    payloads, y = breast_cancer
    rejected = 0
    for seed in range(12):
        rest, holdout, current, rng = _scenario(breast_cancer, seed)
        flip = rng.permutation(len(rest)) < round(0.4 * len(rest))
        corrupted_y = [OTHER[y[i]] if f else y[i] for i, f in zip(rest, flip, strict=True)]
        candidate = fit("tabular", [payloads[i] for i in rest], corrupted_y)
        decision = _gate(breast_cancer, holdout, candidate, current)
        (trusted,) = decision.slices
        assert trusted.candidate is not None and trusted.current is not None
        assert trusted.noise is not None and 0 < trusted.noise < 0.1
        # Whatever it decides, it never lets through a drop beyond tolerance + one noise unit.
        allowed = 0.01 + trusted.noise
        assert decision.promote == (trusted.current - trusted.candidate <= allowed + 1e-9)
        rejected += not decision.promote
    assert rejected >= 6


def test_noise_widens_the_allowed_drop_by_z_standard_errors() -> None:
    noisy = Slice(name="trusted_holdout", candidate=0.86, current=0.90, n=40, noise=0.04)
    assert decide([noisy]).promote  # drop 0.04 <= 0.01 + 1 x 0.04
    assert not decide([noisy], z=0.0).promote  # the plain tolerance rule
    rejected = decide([replace(noisy, candidate=0.84)])
    assert not rejected.promote
    assert "fell 0.900 → 0.840 (allowed drop 0.050)" in rejected.reason
    with pytest.raises(ValueError):
        decide([noisy], z=-1.0)


def test_paired_bootstrap_noise_equals_a_brute_force_bootstrap() -> None:
    rng = np.random.default_rng(5)
    n = 60
    y = np.where(rng.random(n) < 0.3, "malignant", "benign")
    positive = y == "malignant"
    cand = np.clip(positive * 0.3 + rng.random(n) * 0.7, 0, 1)
    curr = np.clip(positive * 0.2 + rng.random(n) * 0.8, 0, 1)
    weights = rng.choice([1.0, 50.0], size=n)  # audits among reviews, say
    noise = paired_bootstrap_noise(
        "average_precision",
        np.column_stack([1 - cand, cand]),
        np.column_stack([1 - curr, curr]),
        y.tolist(),
        labels=LABELS,
        sample_weight=weights.tolist(),
        replicates=300,
        random_state=11,
    )
    counts = np.random.default_rng(11).multinomial(n, np.full(n, 1 / n), size=300)
    diffs = []
    for c in counts:
        w = c * weights
        if (w * positive).sum() == 0:
            continue
        diffs.append(
            average_precision_score(positive, cand, sample_weight=w)
            - average_precision_score(positive, curr, sample_weight=w)
        )
    assert noise == pytest.approx(np.std(diffs, ddof=1))


@pytest.mark.parametrize("metric", ["brier", "log_loss"])
def test_paired_bootstrap_noise_of_scoring_rules_equals_brute_force(metric: str) -> None:
    from sklearn.metrics import log_loss

    from models.evaluation import brier_score

    labels = ["good", "bad", "unsure"]
    rng = np.random.default_rng(4)
    n = 40
    y = rng.choice(labels, size=n)
    cand, curr = rng.dirichlet([2, 2, 2], size=n), rng.dirichlet([2, 2, 2], size=n)
    noise = paired_bootstrap_noise(metric, cand, curr, y.tolist(), labels=labels, random_state=2)
    counts = np.random.default_rng(2).multinomial(n, np.full(n, 1 / n), size=200)

    def value(proba: np.ndarray, w: np.ndarray) -> float:
        if metric == "brier":
            return brier_score(y.tolist(), proba, labels, w)
        order = sorted(range(3), key=lambda j: labels[j])
        return float(log_loss(y, proba[:, order], labels=sorted(labels), sample_weight=w))

    diffs = [value(cand, c) - value(curr, c) for c in counts]
    assert noise == pytest.approx(np.std(diffs, ddof=1))


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_paired_bootstrap_noise_of_label_metrics_equals_brute_force(metric: str) -> None:
    labels = ["good", "bad", "unsure"]
    rng = np.random.default_rng(9)
    n = 50
    y = rng.choice(labels, size=n)
    cand, curr = rng.dirichlet([1, 1, 1], size=n), rng.dirichlet([1, 1, 1], size=n)
    noise = paired_bootstrap_noise(metric, cand, curr, y.tolist(), labels=labels, random_state=3)
    counts = np.random.default_rng(3).multinomial(n, np.full(n, 1 / n), size=200)
    score = accuracy_score if metric == "accuracy" else partial(f1_score, average="macro")
    predicted = [np.asarray(labels)[p.argmax(axis=1)] for p in (cand, curr)]
    present = np.union1d(y, np.concatenate(predicted))
    diffs = []
    for c in counts:
        values = []
        for pred in predicted:
            kwargs: dict[str, Any] = {"sample_weight": c}
            if metric == "macro_f1":  # per model: the labels in y or in its predictions
                kwargs |= {"labels": np.union1d(y, pred), "zero_division": 0}
            values.append(score(y, pred, **kwargs))
        diffs.append(values[0] - values[1])
    assert present.size == 3
    assert noise == pytest.approx(np.std(diffs, ddof=1))


def test_noise_is_zero_for_identical_models_and_none_when_unsupported() -> None:
    proba = np.random.default_rng(0).dirichlet([1, 1], size=30)
    y = ["benign", "malignant"] * 15
    assert paired_bootstrap_noise("average_precision", proba, proba, y, labels=LABELS) == 0.0
    assert paired_bootstrap_noise("roc_auc", proba, proba, y, labels=LABELS) is None
    assert paired_bootstrap_noise("accuracy", proba[:1], proba[:1], y[:1], labels=LABELS) is None


def test_evaluate_slice_is_none_when_nothing_can_be_measured(
    breast_cancer: tuple[list[dict], list[str]],
) -> None:
    payloads, y = breast_cancer
    model = fit("tabular", payloads[:100], y[:100])
    benign = [i for i in range(100, 200) if y[i] == "benign"]
    kwargs: dict[str, Any] = {"labels": LABELS, "metric": "average_precision"}
    assert evaluate_slice(None, "tabular", payloads[:5], y[:5], **kwargs) is None
    assert evaluate_slice(model, "tabular", [], [], **kwargs) is None
    # No positive ("malignant") in the slice: average precision is undefined, not 0.
    no_positive = [payloads[i] for i in benign], [y[i] for i in benign]
    assert evaluate_slice(model, "tabular", *no_positive, **kwargs) is None
    accuracy = evaluate_slice(model, "tabular", *no_positive, labels=LABELS, metric="accuracy")
    assert accuracy is not None and 0.0 <= accuracy <= 1.0
    with pytest.raises(ValueError):
        evaluate_slice(model, "tabular", payloads[:5], y[:5], labels=LABELS, metric="nope")
    (first,) = measure_slice(
        "trusted_holdout",
        candidate=model,
        current=None,
        kind="tabular",
        payloads=payloads[200:260],
        y=y[200:260],
        labels=LABELS,
        metrics=["average_precision"],
    )
    assert first.current is None and first.noise is None and first.candidate is not None


def test_sample_weight_changes_the_measured_value(
    breast_cancer: tuple[list[dict], list[str]],
) -> None:
    payloads, y = breast_cancer
    model = fit("tabular", payloads[:60], y[:60])
    x, t = payloads[300:400], y[300:400]
    predicted = model.predict([p["features"] for p in x])
    wrong = np.asarray(predicted) != np.asarray(t)
    assert wrong.any() and not wrong.all()
    kwargs: dict[str, Any] = {"labels": LABELS, "metric": "accuracy"}
    plain = evaluate_slice(model, "tabular", x, t, **kwargs)
    heavy_errors = evaluate_slice(
        model, "tabular", x, t, sample_weight=np.where(wrong, 50.0, 1.0).tolist(), **kwargs
    )
    assert plain is not None and heavy_errors is not None
    assert heavy_errors < plain
