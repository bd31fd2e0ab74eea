"""What a retrain learns from, what it is checked on, and which waiting items people see first.

Training weights. Every example, from the initial data, a review or an audit, weighs 1. An audit
answer was drawn with probability ``audit_rate`` (say 2%), so inverse-probability weighting would
make each one count 50 reviews: a few dozen easy, confident items would then dominate the fit,
and the fit's variance would grow with every audit. Weighting corrects the sampling bias of an
*estimate* of population performance; a training set does not need to be a representative
sample (uncertainty-driven review deliberately over-samples hard items, which is the point), so
we take the variance reduction and leave the weights at 1. ``sampling_probability`` still travels
with every answer: **evaluation** on recent labels uses ``1 / p`` (``evaluation_weights``) so that
the recent-labels slice measures the model on the traffic it sees, not only on the hard cases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from models.routing import review_priority

Payload = Mapping[str, Any]


@dataclass(frozen=True)
class HumanLabel:
    """A resolved item: what people (or, later, an outcome) said it is."""

    payload: Payload
    label: str
    #: Probability that the item was shown to people: 1.0 for a review, ``audit_rate`` for an audit.
    sampling_probability: float
    resolved_at: datetime
    item_id: str


def apply_outcomes(answers: Sequence[HumanLabel], outcomes: Mapping[str, str]) -> list[HumanLabel]:
    """The answers with each label replaced by the item's outcome where one exists.

    An outcome (a chargeback, a complaint) is ground truth that arrived late; it wins over what
    a reviewer clicked. When an item was resolved twice, the later resolution is kept.
    """
    latest: dict[str, HumanLabel] = {}
    for answer in answers:
        if not 0.0 < answer.sampling_probability <= 1.0:
            raise ValueError(
                f"item {answer.item_id!r}: sampling_probability must be within (0, 1], "
                f"got {answer.sampling_probability!r}"
            )
        kept = latest.get(answer.item_id)
        if kept is None or answer.resolved_at >= kept.resolved_at:
            latest[answer.item_id] = answer
    result = []
    for answer in latest.values():
        outcome = outcomes.get(answer.item_id)
        result.append(answer if outcome is None else replace(answer, label=outcome))
    return result


def assemble_training_set(
    initial: Sequence[tuple[Payload, str]],
    answers: Sequence[HumanLabel],
    outcomes: Mapping[str, str],
    *,
    outcome_payloads: Mapping[str, Payload] | None = None,
) -> tuple[list[Payload], list[str], list[float]]:
    """``(payloads, y, weights)`` for a retrain: initial data, then answers, then outcomes.

    ``initial`` is the training part of the queue's labelled data (its trusted hold-out must stay
    out). An outcome replaces the answer of the same item; an outcome for an item nobody answered
    (an automatic decision that turned out wrong) is added when ``outcome_payloads`` has its
    payload. Weights are all 1.0: see the module docstring for why audits are not up-weighted.
    """
    payloads: list[Payload] = [payload for payload, _ in initial]
    y: list[str] = [label for _, label in initial]
    resolved = apply_outcomes(answers, outcomes)
    payloads.extend(answer.payload for answer in resolved)
    y.extend(answer.label for answer in resolved)
    answered = {answer.item_id for answer in resolved}
    for item_id, label in outcomes.items():
        if item_id not in answered and outcome_payloads and item_id in outcome_payloads:
            payloads.append(outcome_payloads[item_id])
            y.append(label)
    return payloads, y, [1.0] * len(y)


def split_recent(
    answers: Sequence[HumanLabel], fraction: float
) -> tuple[list[HumanLabel], list[HumanLabel]]:
    """``(older, recent)``: the most recently resolved ``fraction`` of answers held out.

    The recent part is not trained on; the gate compares candidate and current model on it.
    Ties in ``resolved_at`` keep the input order, so the split is deterministic.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be within [0, 1), got {fraction!r}")
    ordered = sorted(answers, key=lambda answer: answer.resolved_at)
    n_recent = math.floor(len(ordered) * fraction + 0.5)
    cut = len(ordered) - n_recent
    return ordered[:cut], ordered[cut:]


def evaluation_weights(answers: Sequence[HumanLabel]) -> list[float]:
    """Inverse sampling probabilities, for measuring a model on a slice of answers."""
    return [1.0 / answer.sampling_probability for answer in answers]


def budgeted_order(
    confidences: Sequence[float], weights: Sequence[float] | None = None
) -> list[int]:
    """Indices of waiting items, the one to post first first.

    By uncertainty (``1 - confidence``), or by uncertainty times ``weights`` (e.g. the amount at
    risk) when given: ``models.routing.review_priority``. Equal priorities keep input order
    (oldest first, when the caller passes items in arrival order).
    """
    if weights is not None and len(weights) != len(confidences):
        raise ValueError(f"{len(confidences)} confidences but {len(weights)} weights")
    priorities = np.asarray(
        [
            review_priority(c, weight=1.0 if weights is None else float(weights[i]))
            for i, c in enumerate(confidences)
        ],
        dtype=float,
    )
    return [int(i) for i in np.argsort(-priorities, kind="stable")]
