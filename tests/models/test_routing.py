"""The routing policy: review under the threshold, a seeded audit sample above it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.routing import RouteDecision, decide_route, review_priority


def test_below_threshold_goes_to_review_without_drawing() -> None:
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    decision = decide_route(0.79, review_below=0.8, audit_rate=0.5, rng=rng)
    assert decision == RouteDecision(route="review", audit_probability=1.0)
    assert rng.bit_generator.state == before


def test_threshold_itself_is_confident() -> None:
    decision = decide_route(0.8, review_below=0.8, audit_rate=0.0, rng=np.random.default_rng(0))
    assert decision == RouteDecision(route="auto", audit_probability=0.0)


@pytest.mark.parametrize("audit_rate", [0.02, 0.1, 0.5])
def test_audit_share_matches_audit_rate(audit_rate: float) -> None:
    rng = np.random.default_rng(42)
    n = 20_000
    decisions = [
        decide_route(0.95, review_below=0.8, audit_rate=audit_rate, rng=rng) for _ in range(n)
    ]
    audited = sum(d.route == "audit" for d in decisions)
    # Binomial(n, p): 5 standard deviations, a bound a correct policy essentially never breaks.
    assert abs(audited - n * audit_rate) <= 5 * math.sqrt(n * audit_rate * (1 - audit_rate))
    assert {d.route for d in decisions} == {"audit", "auto"}
    # Drawn or not, a confident item had the same chance of being shown to people.
    assert {d.audit_probability for d in decisions} == {audit_rate}


def test_same_seed_same_routes() -> None:
    def routes(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [
            decide_route(0.9, review_below=0.5, audit_rate=0.3, rng=rng).route for _ in range(200)
        ]

    assert routes(3) == routes(3)
    assert routes(3) != routes(4)


@pytest.mark.parametrize(
    ("confidence", "review_below", "audit_rate", "name"),
    [
        (1.2, 0.8, 0.1, "confidence"),
        (0.9, -0.1, 0.1, "review_below"),
        (0.9, 0.8, 2.0, "audit_rate"),
    ],
)
def test_out_of_range_values_are_refused(
    confidence: float, review_below: float, audit_rate: float, name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        decide_route(
            confidence,
            review_below=review_below,
            audit_rate=audit_rate,
            rng=np.random.default_rng(),
        )


def test_review_priority_puts_least_confident_and_costliest_first() -> None:
    assert review_priority(0.55) > review_priority(0.75)
    assert review_priority(0.6) == pytest.approx(0.4)
    assert review_priority(0.6, weight=250.0) == pytest.approx(100.0)
    assert review_priority(0.9, weight=1000.0) > review_priority(0.5, weight=10.0)
    with pytest.raises(ValueError, match="weight"):
        review_priority(0.5, weight=-1.0)
