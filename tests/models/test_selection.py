"""The retrain's training set, the recent-labels hold-out, and budgeted ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.selection import (
    HumanLabel,
    apply_outcomes,
    assemble_training_set,
    budgeted_order,
    evaluation_weights,
    split_recent,
)

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def _answer(item_id: str, label: str, *, p: float = 1.0, minutes: int = 0) -> HumanLabel:
    return HumanLabel(
        payload={"features": {"amount": float(len(item_id))}, "id": item_id},
        label=label,
        sampling_probability=p,
        resolved_at=T0 + timedelta(minutes=minutes),
        item_id=item_id,
    )


def test_training_set_is_initial_data_then_answers_with_weight_one() -> None:
    initial = [({"features": {"amount": 1.0}}, "legit"), ({"features": {"amount": 900.0}}, "fraud")]
    answers = [_answer("t-1", "fraud"), _answer("t-2", "legit", p=0.02, minutes=1)]
    payloads, y, weights = assemble_training_set(initial, answers, {})
    assert payloads[:2] == [p for p, _ in initial]
    assert y == ["legit", "fraud", "fraud", "legit"]
    assert [p["id"] for p in payloads[2:]] == ["t-1", "t-2"]
    # An audit answer (p = 0.02) is not up-weighted 50-fold for training.
    assert weights == [1.0, 1.0, 1.0, 1.0]


def test_an_outcome_wins_over_the_reviewers_answer() -> None:
    answers = [_answer("t-1", "legit"), _answer("t-2", "legit")]
    _, y, _ = assemble_training_set([], answers, {"t-1": "fraud"})
    assert y == ["fraud", "legit"]


def test_outcomes_for_unanswered_items_need_their_payload() -> None:
    answers = [_answer("t-1", "legit")]
    outcomes = {"t-1": "fraud", "t-7": "fraud", "t-8": "fraud"}
    payloads, y, weights = assemble_training_set(
        [], answers, outcomes, outcome_payloads={"t-7": {"features": {"amount": 7.0}}}
    )
    assert y == ["fraud", "fraud"]
    assert payloads[1] == {"features": {"amount": 7.0}}
    assert weights == [1.0, 1.0]
    # Without payloads an outcome alone cannot be trained on.
    assert assemble_training_set([], [], outcomes)[1] == []


def test_an_item_resolved_twice_counts_once_with_its_latest_label() -> None:
    answers = [_answer("t-1", "fraud", minutes=5), _answer("t-1", "legit", minutes=1)]
    resolved = apply_outcomes(answers, {})
    assert [(a.item_id, a.label) for a in resolved] == [("t-1", "fraud")]


def test_impossible_sampling_probability_is_refused() -> None:
    with pytest.raises(ValueError, match="t-1"):
        apply_outcomes([_answer("t-1", "fraud", p=0.0)], {})


def test_split_recent_holds_out_the_latest_answers() -> None:
    answers = [_answer(f"t-{m}", "legit", minutes=m) for m in (4, 0, 3, 1, 2, 9, 8, 5, 7, 6)]
    older, recent = split_recent(answers, 0.2)
    assert [a.item_id for a in recent] == ["t-8", "t-9"]
    assert [a.item_id for a in older] == [f"t-{m}" for m in range(8)]
    assert split_recent(answers, 0.0) == (sorted(answers, key=lambda a: a.resolved_at), [])
    assert split_recent([], 0.3) == ([], [])
    with pytest.raises(ValueError):
        split_recent(answers, 1.0)


def test_evaluation_weights_are_inverse_sampling_probabilities() -> None:
    answers = [_answer("t-1", "legit"), _answer("t-2", "legit", p=0.02)]
    assert evaluation_weights(answers) == pytest.approx([1.0, 50.0])


def test_budgeted_order_is_least_confident_first() -> None:
    assert budgeted_order([0.9, 0.55, 0.7, 0.99]) == [1, 2, 0, 3]
    assert budgeted_order([]) == []


def test_equal_priorities_keep_arrival_order() -> None:
    assert budgeted_order([0.6, 0.8, 0.6, 0.6]) == [0, 2, 3, 1]


def test_budgeted_order_by_amount_at_risk() -> None:
    confidences = [0.6, 0.9, 0.7]
    amounts = [10.0, 5_000.0, 0.0]
    # Priorities (1 - c) * amount: 4, 500, 0.
    assert budgeted_order(confidences, amounts) == [1, 0, 2]


@pytest.mark.parametrize(
    ("confidences", "weights"),
    [([0.5, 0.6], [1.0]), ([1.2], None), ([0.5], [-1.0])],
)
def test_budgeted_order_refuses_bad_input(
    confidences: list[float], weights: list[float] | None
) -> None:
    with pytest.raises(ValueError):
        budgeted_order(confidences, weights)
