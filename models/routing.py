"""Routing policy: which predictions go to people.

Pure functions of a confidence and the queue's settings; randomness comes in as a
``numpy.random.Generator`` so a seeded generator makes every decision reproducible in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Route = Literal["review", "audit", "auto"]


@dataclass(frozen=True)
class RouteDecision:
    """Where an item goes, and how likely it was to be shown to people at all.

    ``audit_probability`` is the probability that an item with this confidence is sent to
    people: 1.0 below the review threshold, ``audit_rate`` above it, whether this particular item
    was drawn for audit or not. Weighting audit answers by its inverse makes accuracy estimates
    of automatic decisions unbiased.
    """

    route: Route
    audit_probability: float


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value!r}")


def decide_route(
    confidence: float, *, review_below: float, audit_rate: float, rng: np.random.Generator
) -> RouteDecision:
    """Review when ``confidence < review_below``; else audit with probability ``audit_rate``.

    The generator is drawn from only for confident items, so the review path consumes no
    randomness.
    """
    _check_unit("confidence", confidence)
    _check_unit("review_below", review_below)
    _check_unit("audit_rate", audit_rate)
    if confidence < review_below:
        return RouteDecision(route="review", audit_probability=1.0)
    route: Route = "audit" if rng.random() < audit_rate else "auto"
    return RouteDecision(route=route, audit_probability=audit_rate)


def review_priority(confidence: float, *, weight: float = 1.0) -> float:
    """Urgency of a waiting review, higher first: ``(1 - confidence) * weight``.

    ``weight`` lets the caller rank by expected cost, e.g. the amount at risk of a transaction.
    """
    _check_unit("confidence", confidence)
    if weight < 0:
        raise ValueError(f"weight must not be negative, got {weight!r}")
    return (1.0 - confidence) * weight
