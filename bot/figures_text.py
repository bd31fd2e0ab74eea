"""Figures as people read them: percents, intervals, durations and date ranges.

One wording for each kind of figure, shared by review cards, App Home, `/hitl stats`,
``hitl stats`` and the weekly digest, so the same estimate never reads two ways. Pure functions,
plain text out (not escaped: nothing here comes from users). Rounding never claims a certainty
the figure does not have: a share below 1 never reads as 100%, one above 0 never as 0%.
"""

from __future__ import annotations

import math
from datetime import datetime

from models.estimates import Estimate

UNMEASURED = "not measured yet"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def whole_percent(confidence: float) -> str:
    """``61%``: a model's confidence on a card; never "100%" below 1, which would read as
    certain."""
    if confidence != confidence:  # NaN
        return "?%"
    pct = round(min(max(confidence, 0.0), 1.0) * 100)
    return f"{99 if pct == 100 and confidence < 1 else pct}%"


def share_percent(share: float) -> str:
    """``98.9`` (no sign): one decimal, never ``100.0`` below 1 nor ``0.0`` above 0, which
    would read as exact."""
    text = f"{share * 100:.1f}"
    if text == "100.0" and share < 1:
        return "99.9"
    if text == "0.0" and share > 0:
        return "0.1"
    return text


def estimate_text(estimate: Estimate, *, unmeasured: str = UNMEASURED) -> str:
    """``98.9% (95% CI 97.1–99.6%, n=52)``, or ``unmeasured`` when nothing was measured, so an
    unmeasured figure never reads as 0%."""
    e = estimate
    if e.n == 0 or e.value is None or e.low is None or e.high is None:
        return unmeasured
    value, low, high = share_percent(e.value), share_percent(e.low), share_percent(e.high)
    return f"{value}% (95% CI {low}–{high}%, n={e.n:,})"


def estimate_with_basis(estimate: Estimate, basis: str, *, unmeasured: str = UNMEASURED) -> str:
    """``98.9% (95% CI 97.1–99.6%, n=52, corrected for reviewer error measured on 48 control
    answers)``: the figure and, inside its brackets, what it rests on."""
    text = estimate_text(estimate, unmeasured=unmeasured)
    if estimate.n == 0 or not basis:
        return text
    return f"{text[:-1]}, {basis})"


def human_duration(seconds: float) -> str:
    """``45 s``, ``4 min``, ``2.5 h``, ``3 d``: a time to answer as people say it.

    A slightly negative value (clocks of two processes a little apart) reads as ``0 s``.
    """
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"not a duration: {seconds!r}")
    seconds = max(0.0, seconds)
    if round(seconds) < 60:
        return f"{round(seconds)} s"
    if round(seconds / 60) < 60:
        return f"{round(seconds / 60)} min"
    if round(seconds / 3600, 1) < 24:
        return f"{_one_decimal(seconds / 3600)} h"
    return f"{_one_decimal(seconds / 86400)} d"


def period_text(start: datetime, end: datetime) -> str:
    """``20–27 Nov 2026``, ``27 Nov – 4 Dec 2026`` or ``28 Dec 2026 – 4 Jan 2027``: a year or
    month is said once when both ends share it."""
    if start.year != end.year:
        return f"{day_text(start)} {start.year} – {day_text(end)} {end.year}"
    if start.month != end.month:
        return f"{day_text(start)} – {day_text(end)} {end.year}"
    return f"{start.day}–{day_text(end)} {end.year}"


def day_text(at: datetime) -> str:
    """``27 Nov``: a day the same way in every locale (``strftime("%b")`` follows the locale)."""
    return f"{at.day} {_MONTHS[at.month - 1]}"


def _one_decimal(value: float) -> str:
    """``2.5`` or ``3``: one decimal, without a trailing ``.0`` that adds nothing."""
    return f"{value:.1f}".removesuffix(".0")
