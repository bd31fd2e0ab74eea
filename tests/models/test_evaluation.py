"""Holdout splits, metrics (including holdouts missing a class) and the fit guard rails."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from models.errors import BadTrainingData
from models.evaluation import HIGHER_IS_BETTER, Metrics, evaluate, fit, split_holdout


def _breast_cancer() -> tuple[list[dict], list[str]]:
    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    payloads = [{"features": dict(zip(names, map(float, row), strict=True))} for row in data.data]
    # Labels deliberately not in sorted order: "benign" is the positive (second) label.
    return payloads, ["malignant" if t == 0 else "benign" for t in data.target]


LABELS = ("malignant", "benign")


def test_split_is_a_stratified_partition() -> None:
    y = ["a"] * 90 + ["b"] * 10
    train, holdout = split_holdout(100, fraction=0.2, stratify=y)
    assert sorted([*train, *holdout]) == list(range(100))
    assert len(holdout) == 20
    assert sum(y[i] == "b" for i in holdout) == 2
    again = split_holdout(100, fraction=0.2, stratify=y)
    np.testing.assert_array_equal(again[1], holdout)
    assert not np.array_equal(split_holdout(100, stratify=y, random_state=1)[1], holdout)


def test_split_falls_back_when_a_class_is_too_rare() -> None:
    y = ["a"] * 19 + ["b"]
    train, holdout = split_holdout(20, fraction=0.25, stratify=y)
    assert sorted([*train, *holdout]) == list(range(20))
    assert len(holdout) == 5


def test_split_needs_two_rows() -> None:
    with pytest.raises(BadTrainingData, match="got 1"):
        split_holdout(1)


def test_evaluate_binary_on_real_data() -> None:
    payloads, y = _breast_cancer()
    train, holdout = split_holdout(len(y), stratify=y)
    pipeline = fit("tabular", [payloads[i] for i in train], [y[i] for i in train])
    metrics = evaluate(
        pipeline, "tabular", [payloads[i] for i in holdout], [y[i] for i in holdout], labels=LABELS
    )
    assert metrics.n == len(holdout)
    assert metrics.accuracy is not None and metrics.accuracy > 0.94
    assert metrics.roc_auc is not None and metrics.roc_auc > 0.98
    assert metrics.average_precision is not None and metrics.average_precision > 0.98
    assert metrics.macro_f1 is not None and metrics.macro_f1 > 0.93
    # Log loss computed by hand: probability given to the true label, whatever the label order.
    proba = pipeline.predict_proba([payloads[i]["features"] for i in holdout])
    column = {c: j for j, c in enumerate(pipeline.classes_)}
    expected = -np.mean([math.log(p[column[y[i]]]) for p, i in zip(proba, holdout, strict=True)])
    assert metrics.log_loss == pytest.approx(expected)
    assert metrics.as_dict()["n"] == metrics.n
    assert metrics.primary("roc_auc") == metrics.roc_auc


def test_holdout_missing_a_class_gives_none_not_a_crash() -> None:
    payloads, y = _breast_cancer()
    pipeline = fit("tabular", payloads[:400], y[:400])
    only_malignant = [i for i in range(400, len(y)) if y[i] == "malignant"]
    metrics = evaluate(
        pipeline,
        "tabular",
        [payloads[i] for i in only_malignant],
        ["malignant"] * len(only_malignant),
        labels=LABELS,
    )
    assert metrics.roc_auc is None
    assert metrics.average_precision is None  # no positive ("benign") at all
    assert metrics.accuracy is not None and metrics.log_loss is not None
    with pytest.raises(ValueError, match="roc_auc is undefined"):
        metrics.primary("roc_auc")
    only_benign = [i for i in range(400, len(y)) if y[i] == "benign"]
    metrics = evaluate(
        pipeline,
        "tabular",
        [payloads[i] for i in only_benign],
        ["benign"] * len(only_benign),
        labels=LABELS,
    )
    assert metrics.roc_auc is None and metrics.average_precision == pytest.approx(1.0)


def test_sample_weight_changes_the_estimate() -> None:
    payloads, y = _breast_cancer()
    pipeline = fit("tabular", payloads[:300], y[:300])
    rest, truth = payloads[300:], y[300:]
    predicted = pipeline.predict([p["features"] for p in rest])
    wrong = np.asarray(predicted) != np.asarray(truth)
    assert wrong.any()
    weights = np.where(wrong, 10.0, 1.0)
    plain = evaluate(pipeline, "tabular", rest, truth, labels=LABELS)
    weighted = evaluate(pipeline, "tabular", rest, truth, labels=LABELS, sample_weight=weights)
    assert weighted.accuracy == pytest.approx(np.average(~wrong, weights=weights))
    assert weighted.accuracy is not None and plain.accuracy is not None
    assert weighted.accuracy < plain.accuracy


def test_multiclass_has_no_binary_metrics() -> None:
    texts = ["refund please", "where is my parcel", "love it"] * 10  # synthetic
    y = ["refund", "delivery", "praise"] * 10
    pipeline = fit("text", [{"text": t} for t in texts], y)
    metrics = evaluate(
        pipeline, "text", [{"text": t} for t in texts], y, labels=["refund", "delivery", "praise"]
    )
    assert metrics.average_precision is None and metrics.roc_auc is None
    assert metrics.accuracy == 1.0


def test_empty_evaluation_and_unknown_labels() -> None:
    pipeline = fit("text", [{"text": f"word{i % 2} common"} for i in range(10)], ["a", "b"] * 5)
    assert evaluate(pipeline, "text", [], [], labels=["a", "b"]) == Metrics(
        0, None, None, None, None, None
    )
    with pytest.raises(BadTrainingData, match=r"\['c'\]"):
        evaluate(pipeline, "text", [{"text": "x"}], ["c"], labels=["a", "b"])
    with pytest.raises(KeyError, match="unknown metric 'f2'"):
        Metrics(1, 1.0, None, None, 1.0, 0.1).primary("f2")
    assert set(HIGHER_IS_BETTER) == set(Metrics.__dataclass_fields__) - {"n"}


@pytest.mark.parametrize(
    ("y", "fragment"),
    [(["a", "b"] * 4, "at least 10 labelled examples to train, got 8"), (["a"] * 12, "got 1")],
)
def test_fit_refuses_too_little_data(y: list[str], fragment: str) -> None:
    with pytest.raises(BadTrainingData, match=fragment):
        fit("text", [{"text": "hello there"}] * len(y), y)


def test_fit_text_with_no_repeated_term_falls_back_to_every_term() -> None:
    texts = [f"unique{i}" for i in range(10)]  # no term in two documents: min_df=2 keeps none
    pipeline = fit("text", [{"text": t} for t in texts], ["a", "b"] * 5)
    assert pipeline.named_steps["vectorize"].min_df == 1
    with pytest.raises(BadTrainingData, match="cannot train on these texts"):
        fit("text", [{"text": "!"}] * 10, ["a", "b"] * 5)


def test_the_brier_score_is_twice_scikit_learns_for_two_labels() -> None:
    from sklearn.metrics import brier_score_loss

    from models.evaluation import brier_score

    rng = np.random.default_rng(1)
    p = rng.random(50)
    y = ["b" if rng.random() < p[i] else "a" for i in range(50)]
    proba = np.column_stack([1 - p, p])
    expected = 2 * brier_score_loss([label == "b" for label in y], p)
    assert brier_score(y, proba, ["a", "b"]) == pytest.approx(expected)
    weights = rng.random(50)
    weighted = 2 * brier_score_loss([label == "b" for label in y], p, sample_weight=weights)
    assert brier_score(y, proba, ["a", "b"], weights) == pytest.approx(weighted)
