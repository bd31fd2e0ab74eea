"""Budgeted selection: waiting items go out by uncertainty, or uncertainty × a numeric field."""

from __future__ import annotations

from bot.review.ingest import priority_for
from tests.factories import make_config


def test_without_priority_field_the_least_confident_goes_first():
    queue = make_config(fraud={}).queue("fraud")
    big_sure = priority_for(queue, {"features": {"amount": 5000.0}}, 0.9)
    small_unsure = priority_for(queue, {"features": {"amount": 5.0}}, 0.6)
    assert small_unsure > big_sure


def test_priority_field_weights_uncertainty_by_the_amount_at_risk():
    queue = make_config(fraud={"priority_field": "amount"}).queue("fraud")
    big_sure = priority_for(queue, {"features": {"amount": 5000.0}}, 0.9)
    small_unsure = priority_for(queue, {"features": {"amount": 5.0}}, 0.6)
    assert big_sure > small_unsure
    assert abs(big_sure - (1 - 0.9) * 5000.0) < 1e-9


def test_a_missing_or_non_numeric_field_counts_as_weight_one():
    queue = make_config(fraud={"priority_field": "amount"}).queue("fraud")
    assert priority_for(queue, {"features": {}}, 0.7) == priority_for(
        queue, {"features": {"amount": "n/a"}}, 0.7
    )
    assert abs(priority_for(queue, {"features": {}}, 0.7) - 0.3) < 1e-9
