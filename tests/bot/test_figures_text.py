"""Figures as people read them: rounding that never claims a certainty the figure lacks, and
one wording of an estimate for every surface."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.figures_text import (
    day_text,
    estimate_text,
    human_duration,
    period_text,
    share_percent,
    whole_percent,
)
from models.estimates import Estimate


@pytest.mark.parametrize(
    ("confidence", "shown"),
    [
        (0.634, "63%"),
        (0.5, "50%"),
        (0.996, "99%"),  # rounds to 100 but is not certain
        (1.0, "100%"),
        (0.0, "0%"),
        (1.2, "100%"),  # out of range is clamped, not shown as 120%
        (-0.1, "0%"),
        (float("nan"), "?%"),
    ],
)
def test_whole_percent(confidence: float, shown: str) -> None:
    assert whole_percent(confidence) == shown


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0.989, "98.9"), (0.9996, "99.9"), (1.0, "100.0"), (0.0004, "0.1"), (0.0, "0.0")],
)
def test_share_percent_is_exact_only_when_the_share_is(share: float, shown: str) -> None:
    assert share_percent(share) == shown


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-0.4, "0 s"),
        (45, "45 s"),
        (59.6, "1 min"),
        (240, "4 min"),
        (3599, "1 h"),
        (9000, "2.5 h"),
        (86399, "1 d"),
        (3 * 86400, "3 d"),
        (1.5 * 86400, "1.5 d"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_human_duration_refuses_nan() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        human_duration(float("nan"))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2026, 11, 20), datetime(2026, 11, 27), "20–27 Nov 2026"),
        (datetime(2026, 11, 27), datetime(2026, 12, 4), "27 Nov – 4 Dec 2026"),
        (datetime(2026, 12, 28), datetime(2027, 1, 4), "28 Dec 2026 – 4 Jan 2027"),
    ],
)
def test_period_text(start: datetime, end: datetime, expected: str) -> None:
    assert period_text(start, end) == expected


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [
        (Estimate(value=0.9996, low=0.99, high=1.0, n=2500), "99.9% (95% CI 99.0–100.0%, n=2,500)"),
        (Estimate(value=1.0, low=0.93, high=1.0, n=52), "100.0% (95% CI 93.0–100.0%, n=52)"),
        (Estimate(value=0.0004, low=0.0, high=0.002, n=2500), "0.1% (95% CI 0.0–0.2%, n=2,500)"),
        (Estimate.unmeasured(), "not measured"),
    ],
)
def test_estimate_text_never_rounds_to_a_false_certainty(estimate: Estimate, expected: str) -> None:
    assert estimate_text(estimate, unmeasured="not measured") == expected


def test_estimate_text_says_not_measured_yet_by_default() -> None:
    assert estimate_text(Estimate.unmeasured()) == "not measured yet"
    measured = Estimate(value=0.981, low=0.96, high=0.991, n=210)
    assert estimate_text(measured) == "98.1% (95% CI 96.0–99.1%, n=210)"


def test_day_text() -> None:
    assert day_text(datetime(2026, 1, 4)) == "4 Jan"
    assert day_text(datetime(2026, 12, 28)) == "28 Dec"
