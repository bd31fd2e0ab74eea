"""The promotion gate: a retrained candidate replaces the current model only when not worse.

Both models are measured on the same held-out slices:

- ``trusted_holdout``: a held-out part of the queue's initial labelled data. Mandatory: it is the
  one slice reviewers cannot influence, so it is what protects the model from wrong, careless or
  malicious answers. Without it (or with too little of it) nothing is promoted.
- ``recent_labels``: the most recent resolved answers, not trained on, audits weighted by the
  inverse of their sampling probability (``models.selection``).
- ``outcomes``: items with late ground truth.
- ``new_file``: the hold-out of a labelled file `hitl train` was given for a queue that has a
  model. The file is judged on the queue's trusted hold-out too: a wrong file is perfect on
  its own hold-out, so that alone cannot let it in.

**Several metrics on each slice** (``gate_metrics``): a proper scoring rule (the confidence
decides who sees what, so a model that is confidently wrong must lose), a decision metric
(accuracy), and the ranking metric (average precision for binary queues, macro-F1 for more
labels). One metric alone is easy to fool on a small slice: on a 30-row hold-out with 2
positives, a model trained on answers that were all wrong raised average precision 0.173 →
0.222 by chance while its accuracy fell 0.933 → 0.500 and its log loss rose 0.25 → 0.84. A
significant drop on *any* judged metric rejects.

The scoring rule is the Brier score rather than log loss. Both are proper, but log loss is
unbounded: on a 40-row slice one confidently wrong row (p = 0.999) adds 0.17 to it, so it is
noisy where slices are small, and it punishes the harmless kind of change most: answers chosen
for being hard, or a little noisy, make a model less sure of itself while its decisions and
ranking improve. With log loss, ``benchmarks/trust.py`` measured 28–45% of such better
candidates rejected on the fraud data and label efficiency fell below the single-metric gate's;
with Brier, about 7%. Log loss is still recorded with every version's hold-out metrics.

A metric is not judged where it is undefined (average precision without a positive) or too
noisy to mean anything: the ranking metric with fewer than ``MIN_CLASS_EXAMPLES`` examples of
the positive class (of the rarest label for macro-F1). The reason names it ("average_precision on
trusted_holdout not judged: 2 positives, too few") and the other metrics decide.

**Significant.** Small slices are noisy: a 40-row hold-out moves average precision by several
hundredths between two equally good models, so a fixed 0.01 tolerance rejects many better
candidates. So each comparison carries ``noise``, the standard error of ``candidate - current``
from a paired bootstrap of the slice's rows (``models.bootstrap``), and a drop is held against the
candidate only when it exceeds ``tolerance + z * noise`` (``z = 1`` by default, the spirit of the
one-standard-error rule). On a large slice the noise vanishes and the rule is the plain
tolerance; a model trained on corrupted answers falls far beyond either.

**No ratchet.** Each step being within tolerance of the one before lets a queue drift down: 20
candidates in a row, each a little worse, all promoted. So the candidate is also compared, on the
trusted hold-out, with the earlier version that reached the best score there on each metric (a
*floor*, a ``Slice`` with ``against`` set to that version): it may not fall below that best by
more than the same allowance. The floor is a fixed model, so the allowance cannot accumulate.

``decide`` is a pure function of numbers; ``measure_slice`` computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from models.bootstrap import paired_bootstrap_noise
from models.evaluation import HIGHER_IS_BETTER, evaluate, proba_by_label
from models.pipelines import Kind, to_model_input

SLICE_NAMES: tuple[str, ...] = ("trusted_holdout", "recent_labels", "outcomes", "new_file")
MANDATORY = "trusted_holdout"
#: Fewer examples of the class a ranking metric is about than this, and it is not judged.
MIN_CLASS_EXAMPLES = 5
#: Differences smaller than this are rounding, not a change (0.85 - 0.84 > 0.01 in floats).
_EPSILON = 1e-9


@dataclass(frozen=True)
class Slice:
    """One metric of both models on one evaluation set (``None``: undefined or no model)."""

    name: str
    candidate: float | None
    #: The reference model's value: the current model's, or the floor version's (``against``).
    current: float | None
    n: int
    #: Standard error of ``candidate - current`` on this slice; ``None``: not estimated.
    noise: float | None = None
    metric: str = "average_precision"
    #: Why this metric is not judged here although measured ("2 positives, too few").
    unjudged: str | None = None
    #: The earlier version compared with when it is not the current model: a ratchet floor.
    against: str | None = None


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    slices: tuple[Slice, ...]


def primary_metric(labels: Sequence[str]) -> str:
    """The ranking metric: average precision for binary queues, else macro-F1. It is the figure
    announcements and the digest quote; the gate judges on every one of ``gate_metrics``."""
    if len(labels) < 2:
        raise ValueError(f"a queue needs at least 2 labels, got {list(labels)}")
    return "average_precision" if len(labels) == 2 else "macro_f1"


#: The gate's proper scoring rule (see ``gate_metrics``).
SCORING_RULE = "brier"


def gate_metrics(labels: Sequence[str]) -> tuple[str, ...]:
    """What the gate judges: a proper scoring rule, a decision metric, the ranking metric."""
    return (SCORING_RULE, "accuracy", primary_metric(labels))


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
    _check_metric(metric)
    if pipeline is None or len(y) == 0:
        return None
    metrics = evaluate(pipeline, kind, payloads, y, labels=labels, sample_weight=sample_weight)
    value = getattr(metrics, metric)
    return None if value is None else float(value)


def too_noisy(metric: str, y: Sequence[str], labels: Sequence[str]) -> str | None:
    """Why ``metric`` means nothing on a slice with these labels, or ``None`` if it can judge.

    Average precision rests on the positives only; macro-F1 gives the rarest label a vote equal
    to the commonest. With 2 positives either moves by tenths when one row changes."""
    if metric == "average_precision" and len(labels) == 2:
        k = sum(1 for label in y if label == labels[1])
        if 0 < k < MIN_CLASS_EXAMPLES:
            return f"{k} positive{'' if k == 1 else 's'}, too few"
    if metric == "macro_f1":
        present = [sum(1 for label in y if label == c) for c in labels]
        rarest = min((k for k in present if k), default=0)
        if 0 < rarest < MIN_CLASS_EXAMPLES:
            return f"{rarest} examples of its rarest label, too few"
    return None


def measure_slice(
    name: str,
    *,
    candidate: Pipeline,
    current: Pipeline | None,
    kind: Kind,
    payloads: Sequence[Mapping[str, Any]],
    y: Sequence[str],
    labels: Sequence[str],
    metrics: Sequence[str],
    sample_weight: Sequence[float] | None = None,
    against: str | None = None,
    replicates: int = 200,
    random_state: int = 0,
) -> list[Slice]:
    """Both models on one slice, one ``Slice`` per metric, each with its paired-bootstrap noise.

    ``current`` is the reference model: the current one, or a floor version named by
    ``against``. Each model scores the rows once, whatever the number of metrics.
    """
    for metric in metrics:
        _check_metric(metric)
    labels = [str(label) for label in labels]
    if len(y) == 0:
        return [Slice(name, None, None, 0, metric=m, against=against) for m in metrics]
    common: dict[str, Any] = {"labels": labels, "sample_weight": sample_weight}
    after = evaluate(candidate, kind, payloads, y, **common)
    before = None if current is None else evaluate(current, kind, payloads, y, **common)
    probas: tuple[np.ndarray, np.ndarray] | None = None
    if current is not None and replicates and len(y) > 1:
        x = to_model_input(kind, payloads)
        probas = (proba_by_label(candidate, x, labels), proba_by_label(current, x, labels))
    result = []
    for metric in metrics:
        value = getattr(after, metric)
        reference = None if before is None else getattr(before, metric)
        noise = None
        if value is not None and reference is not None and probas is not None:
            noise = paired_bootstrap_noise(
                metric,
                *probas,
                y,
                labels=labels,
                sample_weight=sample_weight,
                replicates=replicates,
                random_state=random_state,
            )
        result.append(
            Slice(
                name=name,
                candidate=None if value is None else float(value),
                current=None if reference is None else float(reference),
                n=len(y),
                noise=noise,
                metric=metric,
                unjudged=too_noisy(metric, y, labels),
                against=against,
            )
        )
    return result


def decide(
    slices: Sequence[Slice],
    *,
    tolerance: float = 0.01,
    min_n: int = 20,
    z: float = 1.0,
) -> GateDecision:
    """Promote only when no judged metric of any slice drops by more than its allowance,
    ``tolerance + z * noise``, against the current model or against a floor.

    The reason is one human-readable line: the failures when rejected ("accuracy on
    trusted_holdout fell 0.933 → 0.500 (allowed drop 0.094)"), else the before → after of each
    comparison, then what was not judged and why.
    """
    if tolerance < 0 or z < 0:
        raise ValueError(f"tolerance and z must not be negative, got {tolerance!r}, {z!r}")
    for item in slices:
        _check_metric(item.metric)
    unknown = sorted({s.name for s in slices} - set(SLICE_NAMES))
    if unknown:
        raise ValueError(f"unknown slice {unknown}; expected among {list(SLICE_NAMES)}")
    keys = [(s.name, s.metric, s.against) for s in slices]
    if len(set(keys)) != len(keys):
        raise ValueError(f"each slice and metric may appear once, got {keys}")
    failures: list[str] = []
    compared: list[str] = []
    skipped: list[str] = []
    trusted = [s for s in slices if s.name == MANDATORY and s.against is None]
    if not trusted:
        failures.append(f"no {MANDATORY} slice to compare on")
    elif trusted[0].n < min_n:
        failures.append(f"{MANDATORY} has {trusted[0].n} examples, fewer than {min_n}")
    elif not any(s.candidate is not None and s.unjudged is None for s in trusted):
        failures.append(f"no metric can be judged on {MANDATORY} (n={trusted[0].n})")
    small = set()
    for item in slices:
        where = f"{item.metric} on {item.name}"
        if item.n < min_n:
            if item.name != MANDATORY and item.name not in small:
                small.add(item.name)
                skipped.append(f"{item.name} skipped: {item.n} examples, fewer than {min_n}")
            continue
        if item.candidate is None:
            if item.against is None:
                skipped.append(f"{where} not judged: undefined")
            continue
        if item.unjudged is not None:
            if item.against is None:
                skipped.append(f"{where} not judged: {item.unjudged}")
            continue
        if item.current is None:
            if item.against is None:
                compared.append(f"{where} {item.candidate:.3f} (no current value)")
            continue
        higher = HIGHER_IS_BETTER[item.metric]
        drop = item.current - item.candidate if higher else item.candidate - item.current
        allowed = tolerance + z * (item.noise or 0.0)
        floor = "" if item.against is None else f" against {item.against}, the best earlier"
        if drop > allowed + _EPSILON:
            verb = "fell" if higher else "rose"
            failures.append(
                f"{where} {verb} {item.current:.3f} → {item.candidate:.3f}{floor}"
                f" (allowed drop {allowed:.3f})"
            )
        elif item.against is None:
            compared.append(f"{where} {item.current:.3f} → {item.candidate:.3f}")
    parts = failures if failures else compared
    reason = "; ".join(parts + skipped)
    return GateDecision(promote=not failures, reason=reason, slices=tuple(slices))


def best_scores(
    scores: Sequence[Mapping[str, float | None]], metrics: Sequence[str]
) -> dict[str, int]:
    """For each metric, the index in ``scores`` (the trusted hold-out scores of the versions
    once in use, oldest first) of the best one; the earliest on a tie. A metric no version has a
    score for is left out. These are the ratchet's floors."""
    best: dict[str, int] = {}
    for metric in metrics:
        sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
        scored = [(i, s[metric]) for i, s in enumerate(scores) if s.get(metric) is not None]
        if scored:
            best[metric] = max(scored, key=lambda pair: (sign * float(pair[1] or 0), -pair[0]))[0]
    return best


def trusted_figure(slices: Sequence[Slice], metric: str) -> Slice | None:
    """The trusted hold-out's ``metric`` against the current model: what announcements quote."""
    for item in slices:
        if item.name == MANDATORY and item.metric == metric and item.against is None:
            return item
    return None


def _check_metric(metric: str) -> None:
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(HIGHER_IS_BETTER)}")
