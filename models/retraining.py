"""A retrain: build the training set, fit a candidate, gate it against the current model.

Reads and writes through ``storage``; no Slack, no HTTP. The caller (a job, the CLI) announces
the result. Before any work, two checks that make no candidate at all:

- a queue pinned by a rollback stays on its version until `hitl unpin` (``not promoted: pinned
  to fraud-v1``): checked first, so no path, scheduled or not, can undo a rollback;
- with no new answers or outcomes since the last candidate (promoted or not), a new one would be
  the same model again (``not promoted: no new answers``).

Control items never train, and answers of reviewers flagged as unreliable
(``models.reviewer_quality``) neither train nor feed the recent-labels slice while flagged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sklearn.pipeline import Pipeline
from sqlalchemy.orm import Session

from models.errors import ModelNotTrained
from models.evaluation import evaluate, fit
from models.gate import (
    GateDecision,
    Slice,
    best_scores,
    decide,
    gate_metrics,
    measure_slice,
    primary_metric,
    trusted_figure,
)
from models.pipelines import Kind, feature_schema
from models.registry import load_current, pipeline_of, save_pipeline
from models.reviewer_quality import as_checks, flagged_reviewers, reviewer_accuracy
from models.selection import HumanLabel, assemble_training_set, evaluation_weights, split_recent
from storage.labels import data_mark, outcomes, resolved_items
from storage.pins import active_pin
from storage.registry import latest_version, list_versions
from storage.tables import ModelVersion
from storage.training_data import examples
from storage.trust_data import checked_counts

RECENT_FRACTION = 0.2
TOLERANCE = 0.01
NO_NEW_ANSWERS = "no new answers"


def _held_out(item_id: str) -> bool:
    return int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % 5 == 0


def holdout_key(payloads: Sequence[Mapping[str, Any]], y: Sequence[str]) -> str:
    """A fingerprint of a trusted hold-out: scores stored with the same key were measured on the
    same rows, so the ratchet may compare them."""
    text = json.dumps([list(payloads), list(y)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RetrainResult:
    promoted: bool
    #: The candidate made; ``None`` when none was (pinned, or no new answers).
    version: str | None
    previous: str
    reason: str
    metric: str
    before: float | None  # metric of the previous model on the trusted hold-out
    after: float | None  # metric of the candidate there
    decision: GateDecision | None

    @property
    def candidate(self) -> bool:
        return self.version is not None


def _no_candidate(previous: str, reason: str, labels: Sequence[str]) -> RetrainResult:
    return RetrainResult(False, None, previous, reason, primary_metric(labels), None, None, None)


def retrain(
    *,
    session: Session,
    queue: str,
    kind: Kind,
    labels: tuple[str, ...],
    tolerance: float = TOLERANCE,
    z: float = 1.0,
    min_reviewer_accuracy: float = 0.0,
    random_state: int = 0,
) -> RetrainResult:
    """Train a candidate on everything known and keep it; make it current only if the gate
    says it is not worse than the current model (nor the best earlier one) on any slice."""
    current_version, current = load_current(session=session, queue=queue)
    pin = active_pin(session=session, queue=queue)
    if pin is not None:
        return _no_candidate(current_version.version, f"pinned to {pin.version}", labels)
    mark = data_mark(session=session, queue=queue)
    last = latest_version(session=session, queue=queue)
    if last is not None and last.info.get("data_mark") == mark:
        return _no_candidate(current_version.version, NO_NEW_ANSWERS, labels)

    train_payloads, train_y = examples(session=session, queue=queue, split="train")
    holdout_payloads, holdout_y = examples(session=session, queue=queue, split="holdout")
    if not train_y:
        raise ModelNotTrained(queue)
    flagged = flagged_for(session=session, queue=queue, min_accuracy=min_reviewer_accuracy)
    answers = [
        HumanLabel(r.payload, r.label, r.sampling_probability, r.resolved_at, r.item_id)
        for r in resolved_items(session=session, queue=queue, exclude_users=flagged)
    ]
    outcome_labels, outcome_payloads = outcomes(session=session, queue=queue)
    older, recent = split_recent(answers, RECENT_FRACTION)
    recent_ids = {a.item_id for a in recent}
    # Outcomes of recent items and a fixed fifth of the others are kept out of training, so
    # the outcome slice measures both models on data neither was fitted to.
    held_outcomes = {k for k in outcome_labels if k in recent_ids or _held_out(k)}
    payloads, y, _weights = assemble_training_set(
        list(zip(train_payloads, train_y, strict=True)),
        [a for a in older if a.item_id not in held_outcomes],
        {k: v for k, v in outcome_labels.items() if k not in held_outcomes},
        outcome_payloads=outcome_payloads,
    )
    candidate = fit(kind, payloads, y, random_state=random_state)
    held = sorted(held_outcomes)
    result = judge(
        session=session,
        queue=queue,
        kind=kind,
        labels=labels,
        candidate=candidate,
        current=(current_version, current),
        holdout=(holdout_payloads, holdout_y),
        recent=recent,
        recent_truth=[outcome_labels.get(a.item_id, a.label) for a in recent],
        held_outcomes=([outcome_payloads[k] for k in held], [outcome_labels[k] for k in held]),
        tolerance=tolerance,
        z=z,
    )
    version = save_pipeline(
        session=session,
        queue=queue,
        kind=kind,
        pipeline=candidate,
        labels=list(labels),
        n_train=len(y),
        metrics=result.metrics,
        info={
            "random_state": random_state,
            "source": "retrain",
            "reason": result.decision.reason,
            "n_human": len(older),
            "n_recent": len(recent),
            "n_outcomes": len(outcome_labels),
            "feature_schema": feature_schema(kind, payloads),
            "flagged_reviewers": sorted(flagged),
            "data_mark": mark,
            "holdout_key": holdout_key(holdout_payloads, holdout_y),
        },
        make_current=result.decision.promote,
    )
    return result.outcome(version.version, current_version.version, labels)


def flagged_for(*, session: Session, queue: str, min_accuracy: float) -> frozenset[str]:
    """The queue's reviewers flagged now: their answers neither train nor judge a candidate."""
    checks = as_checks(checked_counts(session=session, queues=[queue]))
    return flagged_reviewers(reviewer_accuracy(checks, min_accuracy=min_accuracy))


@dataclass(frozen=True)
class Judgement:
    decision: GateDecision
    metrics: dict[str, Any]  # what the registry keeps: hold-out metrics and the gate's slices

    def outcome(self, version: str, previous: str, labels: Sequence[str]) -> RetrainResult:
        metric = primary_metric(labels)
        trusted = trusted_figure(self.decision.slices, metric)
        return RetrainResult(
            promoted=self.decision.promote,
            version=version,
            previous=previous,
            reason=self.decision.reason,
            metric=metric,
            before=None if trusted is None else trusted.current,
            after=None if trusted is None else trusted.candidate,
            decision=self.decision,
        )


def judge(
    *,
    session: Session,
    queue: str,
    kind: Kind,
    labels: Sequence[str],
    candidate: Pipeline,
    current: tuple[ModelVersion, Pipeline],
    holdout: tuple[Sequence[Mapping[str, Any]], Sequence[str]],
    recent: Sequence[HumanLabel],
    recent_truth: Sequence[str],
    held_outcomes: tuple[Sequence[Mapping[str, Any]], Sequence[str]],
    new_file: tuple[Sequence[Mapping[str, Any]], Sequence[str]] | None = None,
    tolerance: float = TOLERANCE,
    z: float = 1.0,
) -> Judgement:
    """The gate's verdict on ``candidate``: every metric on every slice against the current
    model, and on the trusted hold-out against the best earlier version of each metric."""
    metrics = gate_metrics(labels)
    current_version, current_pipeline = current
    common: dict[str, Any] = {
        "candidate": candidate,
        "current": current_pipeline,
        "kind": kind,
        "labels": list(labels),
        "metrics": metrics,
    }
    holdout_payloads, holdout_y = holdout
    slices = [
        *measure_slice("trusted_holdout", payloads=holdout_payloads, y=holdout_y, **common),
        *measure_slice(
            "recent_labels",
            payloads=[a.payload for a in recent],
            y=list(recent_truth),
            sample_weight=evaluation_weights(recent),
            **common,
        ),
        *measure_slice("outcomes", payloads=held_outcomes[0], y=held_outcomes[1], **common),
    ]
    if new_file is not None:
        slices += measure_slice("new_file", payloads=new_file[0], y=new_file[1], **common)
    key = holdout_key(holdout_payloads, holdout_y)
    for floor, floor_metrics in best_earlier(session, queue, key, metrics, current_version).items():
        slices += measure_slice(
            "trusted_holdout",
            candidate=candidate,
            current=pipeline_of(floor),
            kind=kind,
            payloads=holdout_payloads,
            y=holdout_y,
            labels=list(labels),
            metrics=floor_metrics,
            against=floor.version,
        )
    decision = decide(slices, tolerance=tolerance, z=z)
    holdout_metrics = evaluate(candidate, kind, holdout_payloads, holdout_y, labels=list(labels))
    return Judgement(
        decision,
        {"holdout": holdout_metrics.as_dict(), "gate": [asdict(s) for s in decision.slices]},
    )


def best_earlier(
    session: Session,
    queue: str,
    key: str,
    metrics: Sequence[str],
    current: ModelVersion,
) -> dict[ModelVersion, list[str]]:
    """For each metric, the version that was once in use and scored best on this same trusted
    hold-out, when that is not the current one: the ratchet's floors, grouped by version."""
    reached = [
        v
        for v in list_versions(session=session, queue=queue)
        if v.state != "rejected" and v.info.get("holdout_key") == key
    ]
    floors: dict[ModelVersion, list[str]] = {}
    best = best_scores([v.metrics.get("holdout") or {} for v in reached], metrics)
    for metric, index in best.items():
        if reached[index].id != current.id:
            floors.setdefault(reached[index], []).append(metric)
    return floors


def slices_of(version: ModelVersion) -> list[Slice]:
    """The gate's comparisons stored with a version (for `hitl models` and the digest)."""
    return [Slice(**s) for s in version.metrics.get("gate") or []]
