"""A retrain: build the training set, fit a candidate, gate it against the current model.

Reads and writes through ``storage``; no Slack, no HTTP. The caller (a job, the CLI) announces
the result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from models.errors import ModelNotTrained
from models.evaluation import evaluate, fit
from models.gate import GateDecision, decide, measure_slice, primary_metric
from models.pipelines import Kind, feature_schema
from models.registry import load_current, save_pipeline
from models.selection import HumanLabel, assemble_training_set, evaluation_weights, split_recent
from storage.labels import outcomes, resolved_items
from storage.training_data import examples

RECENT_FRACTION = 0.2


def _held_out(item_id: str) -> bool:
    return int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % 5 == 0


@dataclass(frozen=True)
class RetrainResult:
    promoted: bool
    version: str
    previous: str
    reason: str
    metric: str
    before: float | None  # metric of the previous model on the trusted hold-out
    after: float | None  # metric of the candidate there
    decision: GateDecision


def retrain(
    *,
    session: Session,
    queue: str,
    kind: Kind,
    labels: tuple[str, ...],
    tolerance: float = 0.01,
    random_state: int = 0,
) -> RetrainResult:
    """Train a candidate on everything known and keep it; make it current only if the gate
    says it is not worse than the current model on any slice."""
    current_version, current = load_current(session=session, queue=queue)
    train_payloads, train_y = examples(session=session, queue=queue, split="train")
    holdout_payloads, holdout_y = examples(session=session, queue=queue, split="holdout")
    if not train_y:
        raise ModelNotTrained(queue)
    answers = [
        HumanLabel(r.payload, r.label, r.sampling_probability, r.resolved_at, r.item_id)
        for r in resolved_items(session=session, queue=queue)
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

    metric = primary_metric(labels)
    common: dict[str, Any] = {
        "candidate": candidate,
        "current": current,
        "kind": kind,
        "labels": list(labels),
        "metric": metric,
    }
    recent_truth = [outcome_labels.get(a.item_id, a.label) for a in recent]
    slices = [
        measure_slice("trusted_holdout", payloads=holdout_payloads, y=holdout_y, **common),
        measure_slice(
            "recent_labels",
            payloads=[a.payload for a in recent],
            y=recent_truth,
            sample_weight=evaluation_weights(recent),
            **common,
        ),
        measure_slice(
            "outcomes",
            payloads=[outcome_payloads[k] for k in sorted(held_outcomes)],
            y=[outcome_labels[k] for k in sorted(held_outcomes)],
            **common,
        ),
    ]
    decision = decide(slices, tolerance=tolerance, metric=metric)
    holdout_metrics = evaluate(candidate, kind, holdout_payloads, holdout_y, labels=list(labels))
    version = save_pipeline(
        session=session,
        queue=queue,
        kind=kind,
        pipeline=candidate,
        labels=list(labels),
        n_train=len(y),
        metrics={
            "holdout": holdout_metrics.as_dict(),
            "gate": [s.__dict__ for s in decision.slices],
        },
        info={
            "random_state": random_state,
            "source": "retrain",
            "reason": decision.reason,
            "n_human": len(older),
            "n_recent": len(recent),
            "n_outcomes": len(outcome_labels),
            "feature_schema": feature_schema(kind, payloads),
        },
        make_current=decision.promote,
    )
    trusted = decision.slices[0]
    return RetrainResult(
        promoted=decision.promote,
        version=version.version,
        previous=current_version.version,
        reason=decision.reason,
        metric=metric,
        before=trusted.current,
        after=trusted.candidate,
        decision=decision,
    )
