"""The promotion gate: a retrained candidate replaces the current model only when not worse.

Both models are measured on the same held-out slices:

- ``trusted_holdout``: a held-out part of the queue's initial labelled data. Mandatory: it is the
  one slice reviewers cannot influence, so it is what protects the model from wrong, careless or
  malicious answers. Without it (or with too little of it) nothing is promoted.
- ``recent_labels``: the most recent resolved answers, not trained on, audits weighted by the
  inverse of their sampling probability (``models.selection``).
- ``outcomes``: items with late ground truth.

On each slice with at least ``min_n`` examples and a defined metric, the candidate may be worse
than the current model by at most ``tolerance``. Slices too small or where the metric is
undefined (average precision with no positive) are skipped and named in the reason.

Small slices are noisy. A trusted holdout of 40 rows with 8 positives moves average precision
by several hundredths between two equally good models, so a fixed 0.01 tolerance rejects many
better candidates, and after a promotion that won on a lucky draw of that same holdout (the
winner's curse) it can block every later one: in ``benchmarks/label_efficiency.py`` the plain
rule rejected about 4 retrains in 10, and one run stalled for 9 batches on it. So a slice
may carry ``noise``, the standard error of ``candidate - current`` from a paired bootstrap of its
rows (``measure_slice`` computes it), and a drop is only held against the candidate when it
exceeds ``tolerance + z * noise``, by default one standard error (``z = 1``, in the spirit of the
one-standard-error rule of model selection). On a large slice the noise vanishes and the rule is
the plain tolerance; a model trained on corrupted answers falls far beyond either. ``z = 0``
gives the plain tolerance rule everywhere.

``decide`` is a pure function of numbers; ``evaluate_slice`` and ``measure_slice`` compute them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.pipeline import Pipeline

from models.bootstrap import paired_bootstrap_noise
from models.evaluation import HIGHER_IS_BETTER, evaluate, proba_by_label
from models.pipelines import Kind, to_model_input

SLICE_NAMES: tuple[str, ...] = ("trusted_holdout", "recent_labels", "outcomes")
MANDATORY = "trusted_holdout"
#: Differences smaller than this are rounding, not a change (0.85 - 0.84 > 0.01 in floats).
_EPSILON = 1e-9


@dataclass(frozen=True)
class Slice:
    """One evaluation set: the metric of each model on it (``None``: undefined or no model)."""

    name: str
    candidate: float | None
    current: float | None
    n: int
    #: Standard error of ``candidate - current`` on this slice; ``None``: not estimated.
    noise: float | None = None


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    slices: tuple[Slice, ...]


def primary_metric(labels: Sequence[str]) -> str:
    """The metric the gate compares: average precision for binary queues, else macro-F1."""
    if len(labels) < 2:
        raise ValueError(f"a queue needs at least 2 labels, got {list(labels)}")
    return "average_precision" if len(labels) == 2 else "macro_f1"


def evaluate_slice(
    pipeline: Pipeline | None,
    kind: Kind,
    payloads: Sequence[Mapping[str, Any]],
    y: Sequence[str],
    *,
    labels: Sequence[str],
    metric: str,
    sample_weight: Sequence[float] | None = None,
) -> float | None:
    """``metric`` of ``pipeline`` on one slice; ``None`` with no pipeline, no rows or undefined."""
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(HIGHER_IS_BETTER)}")
    if pipeline is None or len(y) == 0:
        return None
    metrics = evaluate(pipeline, kind, payloads, y, labels=labels, sample_weight=sample_weight)
    value = getattr(metrics, metric)
    return None if value is None else float(value)


def measure_slice(
    name: str,
    *,
    candidate: Pipeline,
    current: Pipeline | None,
    kind: Kind,
    payloads: Sequence[Mapping[str, Any]],
    y: Sequence[str],
    labels: Sequence[str],
    metric: str,
    sample_weight: Sequence[float] | None = None,
    replicates: int = 200,
    random_state: int = 0,
) -> Slice:
    """Both models on one slice, with the paired-bootstrap ``noise``, as a ``Slice``."""
    common: dict[str, Any] = {"labels": labels, "metric": metric, "sample_weight": sample_weight}
    value = evaluate_slice(candidate, kind, payloads, y, **common)
    before = evaluate_slice(current, kind, payloads, y, **common)
    noise = None
    if value is not None and before is not None and current is not None and replicates:
        x = to_model_input(kind, payloads)
        noise = paired_bootstrap_noise(
            metric,
            proba_by_label(candidate, x, labels),
            proba_by_label(current, x, labels),
            y,
            labels=labels,
            sample_weight=sample_weight,
            replicates=replicates,
            random_state=random_state,
        )
    return Slice(name=name, candidate=value, current=before, n=len(y), noise=noise)


def _change(metric: str, item: Slice) -> str:
    return f"{metric} on {item.name} {item.current:.3f} → {item.candidate:.3f}"


def decide(
    slices: Sequence[Slice],
    *,
    tolerance: float = 0.01,
    min_n: int = 20,
    metric: str = "average_precision",
    z: float = 1.0,
) -> GateDecision:
    """Promote only when the candidate is not worse by more than ``tolerance`` on each slice.

    A slice with ``noise`` allows a drop of ``tolerance + z * noise``.

    The reason is one human-readable line: the failures when rejected ("average_precision on
    trusted_holdout fell 0.912 → 0.850"), else the before → after of each compared slice, plus
    the slices skipped and why.
    """
    if tolerance < 0 or z < 0:
        raise ValueError(f"tolerance and z must not be negative, got {tolerance!r}, {z!r}")
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(HIGHER_IS_BETTER)}")
    names = [s.name for s in slices]
    unknown = sorted(set(names) - set(SLICE_NAMES))
    if unknown:
        raise ValueError(f"unknown slice {unknown}; expected among {list(SLICE_NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"each slice may appear once, got {names}")
    higher = HIGHER_IS_BETTER[metric]
    failures: list[str] = []
    compared: list[str] = []
    skipped: list[str] = []
    by_name = {s.name: s for s in slices}
    trusted = by_name.get(MANDATORY)
    if trusted is None:
        failures.append(f"no {MANDATORY} slice to compare on")
    elif trusted.n < min_n:
        failures.append(f"{MANDATORY} has {trusted.n} examples, fewer than {min_n}")
    elif trusted.candidate is None:
        failures.append(f"{metric} is undefined on {MANDATORY} (n={trusted.n})")
    for item in slices:
        if item.n < min_n:
            if item.name != MANDATORY:
                skipped.append(f"{item.name} skipped: {item.n} examples, fewer than {min_n}")
            continue
        if item.candidate is None:
            if item.name != MANDATORY:
                skipped.append(f"{item.name} skipped: {metric} undefined")
            continue
        if item.current is None:
            compared.append(f"{metric} on {item.name} {item.candidate:.3f} (no current value)")
            continue
        drop = item.current - item.candidate if higher else item.candidate - item.current
        allowed = tolerance + z * (item.noise or 0.0)
        if drop > allowed + _EPSILON:
            verb = "fell" if higher else "rose"
            failures.append(
                f"{metric} on {item.name} {verb} {item.current:.3f} → {item.candidate:.3f}"
                f" (allowed drop {allowed:.3f})"
            )
        else:
            compared.append(_change(metric, item))
    parts = failures if failures else compared
    reason = "; ".join(parts + skipped)
    return GateDecision(promote=not failures, reason=reason, slices=tuple(slices))
