"""Explanations are part of every queue kind, and exact for the linear pipelines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.datasets import airline_sentiment
from models.kinds import QueueKind
from models.pipelines import (
    KIND_SPECS,
    KINDS,
    build_pipeline,
    feature_schema,
    input_problems,
    score,
    score_explained,
    to_model_input,
)
from tests.factories import cancer_rows


def _purposes(n: int, seed: int = 0) -> tuple[list[dict], list[str]]:
    """Synthetic: fraud when the purpose is "car" and the amount large, or the purpose rare."""
    rng = np.random.default_rng(seed)
    payloads, y = [], []
    for _ in range(n):
        purpose = str(rng.choice(["car", "rent", "small_business"], p=[0.4, 0.5, 0.1]))
        amount = float(rng.exponential(100))
        payloads.append({"features": {"amount": amount, "purpose": purpose}})
        risky = purpose == "small_business" or (purpose == "car" and amount > 150)
        y.append("fraud" if risky else "legit")
    return payloads, y


def test_every_registered_kind_brings_its_own_explanation() -> None:
    assert set(KIND_SPECS) == set(KINDS)
    for spec in KIND_SPECS.values():
        assert isinstance(spec, QueueKind)

    class Incomplete(QueueKind):  # a new kind that forgot to explain itself
        name = "image"

        def build(self, *, random_state):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    with pytest.raises(TypeError, match="contributions"):
        Incomplete()  # type: ignore[abstract]


def test_tabular_contributions_are_exact_and_read_back_one_hot_columns() -> None:
    payloads, y = _purposes(800)
    pipeline = build_pipeline("tabular").fit(to_model_input("tabular", payloads), y)
    items = payloads[:50]
    explained = score_explained(pipeline, "tabular", items, top=10)
    assert [(e.label, e.confidence) for e in explained] == [
        (s.label, s.confidence) for s in score(pipeline, "tabular", items)
    ]
    classifier = pipeline.named_steps["classify"]
    for payload, e in zip(items, explained, strict=True):
        # The contributions toward the predicted label and the intercept make its log-odds.
        positive = e.label == classifier.classes_[1]
        intercept = classifier.intercept_[0] * (1 if positive else -1)
        log_odds = intercept + sum(c["contribution"] for c in e.contributions)
        assert 1 / (1 + math.exp(-log_odds)) == pytest.approx(e.confidence)
        by_feature = {c["feature"]: c["value"] for c in e.contributions}
        assert by_feature["purpose"] == payload["features"]["purpose"]  # not "purpose=car"
        assert by_feature["amount"] == pytest.approx(payload["features"]["amount"])
        strengths = [abs(c["contribution"]) for c in e.contributions]
        assert strengths == sorted(strengths, reverse=True)
    rare = next(
        e
        for p, e in zip(items, explained, strict=True)
        if p["features"]["purpose"] == "small_business"
    )
    assert rare.label == "fraud" and rare.contributions[0]["feature"] == "purpose"
    assert rare.contributions[0]["contribution"] > 0  # it pushes toward what the model said


def test_hidden_inputs_leave_room_for_the_next_strongest() -> None:
    payloads, y = cancer_rows()
    pipeline = build_pipeline("tabular").fit(to_model_input("tabular", payloads[:300]), y[:300])
    [full] = score_explained(pipeline, "tabular", payloads[300:301], top=5)
    hidden = {full.contributions[0]["feature"], full.contributions[2]["feature"]}
    [without] = score_explained(pipeline, "tabular", payloads[300:301], top=5, exclude=hidden)
    assert len(without.contributions) == 5
    assert not hidden & {c["feature"] for c in without.contributions}
    [longer] = score_explained(pipeline, "tabular", payloads[300:301], top=7)
    kept = [c for c in longer.contributions if c["feature"] not in hidden]
    assert [c["feature"] for c in without.contributions] == [c["feature"] for c in kept]


def test_text_contributions_are_words_and_bigrams_present() -> None:
    data = airline_sentiment(n=1500, random_state=0)
    pipeline = build_pipeline("text").fit(to_model_input("text", data.payloads), data.y)
    texts = [
        {"text": "@united worst flight ever, cancelled flight and lost my bag"},
        {"text": "@JetBlue thank you so much, great crew and a smooth flight"},
    ]
    bad, good = score_explained(pipeline, "text", texts, top=5)
    assert bad.label == "negative" and good.label == "positive"
    for item, e in ((texts[0], bad), (texts[1], good)):
        assert e.contributions and all(c["feature"] == "text" for c in e.contributions)
        assert all(str(c["value"]) in item["text"].lower() for c in e.contributions)
    assert bad.contributions[0]["contribution"] > 0
    assert {"worst", "cancelled", "cancelled flight", "lost"} & {
        c["value"] for c in bad.contributions
    }


def test_feature_schema_and_the_problems_of_an_item() -> None:
    payloads, _ = _purposes(50)
    schema = feature_schema("tabular", payloads)
    assert schema["features"]["amount"] == {"type": "numeric"}
    assert schema["features"]["purpose"]["categories"] == ["car", "rent", "small_business"]
    items = [
        {"features": {"amount": 3.0, "purpose": "car"}},
        {"features": {"amount": 3.0}},
        {"features": {"amount": None, "purpose": "boat", "colour": "red"}},
    ]
    ok, missing, odd = input_problems("tabular", schema, items)
    assert not ok
    assert missing.missing == ("purpose",) and not missing.unknown
    assert odd.missing == ("amount",) and odd.unknown == ("colour",)
    assert odd.unseen_categories == (("purpose", "boat"),)
