"""Pipelines of both kinds train on real or clearly synthetic data and score sensibly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from models.datasets import airline_sentiment
from models.errors import InvalidPayload
from models.evaluation import split_holdout
from models.pipelines import Scored, build_pipeline, score, to_model_input


def _synthetic_transactions(n: int, seed: int = 0) -> tuple[list[dict], list[str]]:
    """Synthetic: fraud when the merchant country is "XX" or the amount is large."""
    rng = np.random.default_rng(seed)
    payloads, y = [], []
    for _ in range(n):
        country = str(rng.choice(["FR", "DE", "XX"], p=[0.5, 0.4, 0.1]))
        amount = float(rng.exponential(50))
        features: dict = {
            "amount": amount,
            "country": country,
            "card_present": bool(rng.random() < 0.5),
        }
        if rng.random() < 0.2:
            features["mcc"] = None  # missing values are allowed
        payloads.append({"features": features})
        y.append("fraud" if country == "XX" or amount > 200 else "legit")
    return payloads, y


def test_tabular_pipeline_learns_a_categorical_and_a_numeric_feature() -> None:
    payloads, y = _synthetic_transactions(600)
    pipeline = build_pipeline("tabular").fit(to_model_input("tabular", payloads[:500]), y[:500])
    scored = score(pipeline, "tabular", payloads[500:])
    accuracy = np.mean([s.label == t for s, t in zip(scored, y[500:], strict=True)])
    assert accuracy > 0.95
    # The one-hot column of the country carries the fraud signal.
    names = list(pipeline.named_steps["vectorize"].feature_names_)
    coef = pipeline.named_steps["classify"].coef_[0]
    fraud_is_positive = pipeline.classes_[1] == "fraud"
    assert (coef[names.index("country=XX")] > 0) == fraud_is_positive


def test_tabular_pipeline_on_breast_cancer_scores_with_max_probability() -> None:
    data = load_breast_cancer()
    names = [str(n) for n in data.feature_names]
    payloads = [{"features": dict(zip(names, map(float, row), strict=True))} for row in data.data]
    y = ["malignant" if t == 0 else "benign" for t in data.target]
    train, holdout = split_holdout(len(y), stratify=y)
    pipeline = build_pipeline("tabular").fit(
        to_model_input("tabular", [payloads[i] for i in train]), [y[i] for i in train]
    )
    test_payloads = [payloads[i] for i in holdout]
    scored = score(pipeline, "tabular", test_payloads)
    proba = pipeline.predict_proba(to_model_input("tabular", test_payloads))
    assert [s.confidence for s in scored] == pytest.approx(proba.max(axis=1).tolist())
    assert all(0.5 <= s.confidence <= 1.0 for s in scored)
    assert np.mean([s.label == y[i] for s, i in zip(scored, holdout, strict=True)]) > 0.94


def test_text_pipeline_on_airline_tweets() -> None:
    data = airline_sentiment(n=3000)
    train, holdout = split_holdout(len(data), stratify=data.y)
    pipeline = build_pipeline("text").fit(
        to_model_input("text", [data.payloads[i] for i in train]), [data.y[i] for i in train]
    )
    scored = score(pipeline, "text", [data.payloads[i] for i in holdout])
    accuracy = np.mean([s.label == data.y[i] for s, i in zip(scored, holdout, strict=True)])
    assert accuracy > 0.85  # the majority class alone gives 0.80
    assert {s.label for s in scored} == {"negative", "positive"}


def test_to_model_input_tabular_types() -> None:
    rows = to_model_input(
        "tabular",
        [{"features": {"n": 3, "f": 1.5, "b": True, "s": "FR", "none": None, "nan": math.nan}}],
    )
    assert rows == [{"n": 3.0, "f": 1.5, "b": 1.0, "s": "FR"}]
    assert isinstance(rows[0]["n"], float)


@pytest.mark.parametrize(
    ("kind", "payload", "fragment"),
    [
        ("tabular", {"features": {"a": 1}}, None),
        ("tabular", {"features": {"tags": ["x"]}}, "item 1: feature 'tags'"),
        ("tabular", {"text": "no features"}, "item 1: 'features'"),
        ("text", {"text": 3}, "item 1: 'text'"),
    ],
)
def test_to_model_input_names_the_bad_item(kind: str, payload: dict, fragment: str | None) -> None:
    good = {"features": {"a": 1}} if kind == "tabular" else {"text": "ok"}
    if fragment is None:
        assert len(to_model_input(kind, [good, payload])) == 2  # type: ignore[arg-type]
        return
    with pytest.raises(InvalidPayload, match=fragment):
        to_model_input(kind, [good, payload])  # type: ignore[arg-type]


def test_score_nothing_and_unknown_kind() -> None:
    payloads, y = _synthetic_transactions(50)
    pipeline = build_pipeline("tabular").fit(to_model_input("tabular", payloads), y)
    assert score(pipeline, "tabular", []) == []
    with pytest.raises(ValueError, match="unknown queue kind 'image'"):
        build_pipeline("image")  # type: ignore[arg-type]


def test_probabilities_are_not_rebalanced() -> None:
    # Confidence drives routing: balanced class weights would inflate the rare class.
    pipeline = build_pipeline("text", random_state=7)
    assert pipeline.named_steps["classify"].class_weight is None
    assert pipeline.named_steps["classify"].random_state == 7
    assert Scored("a", 0.5) == Scored("a", 0.5)
