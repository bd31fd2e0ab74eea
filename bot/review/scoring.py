"""Scoring a batch for a queue: the prediction, why (its strongest contributions, stored with
it), what was odd about the inputs, and where it goes.

Shared by ingestion and by the re-scoring of waiting items after a promotion, so an item is
always judged the same way: by the current model, against the inputs that model knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from bot.config import QueueConfig
from bot.review.inputs import Warning, item_warnings
from models.pipelines import input_problems, score_explained
from models.routing import RouteDecision, decide_route
from storage.tables import ModelVersion


@dataclass(frozen=True)
class Assessed:
    label: str
    confidence: float
    #: ``[{"feature", "value", "contribution"}]``, strongest first, hidden fields left out.
    explanation: list[dict[str, Any]]
    warnings: list[Warning]


def feature_schema_of(version: ModelVersion) -> Mapping[str, Any] | None:
    """The inputs ``version`` was trained on; None for a version trained before they were kept."""
    schema = (version.info or {}).get("feature_schema")
    return schema if isinstance(schema, Mapping) else None


def assess(
    queue: QueueConfig,
    version: ModelVersion,
    pipeline: Pipeline,
    payloads: Sequence[Mapping[str, Any]],
) -> list[Assessed]:
    """Score and explain ``payloads`` with the queue's model and check their inputs."""
    explained = score_explained(pipeline, queue.kind, payloads, exclude=queue.hide_fields)
    schema = feature_schema_of(version)
    if schema is None or queue.missing_features == "ignore":
        warnings: list[list[Warning]] = [[] for _ in payloads]
    else:
        problems = input_problems(queue.kind, schema, payloads)
        warnings = [item_warnings(p) for p in problems]
    return [
        Assessed(
            label=e.label,
            confidence=e.confidence,
            explanation=[dict(c) for c in e.contributions],
            warnings=w,
        )
        for e, w in zip(explained, warnings, strict=True)
    ]


def forced_review(queue: QueueConfig, assessed: Assessed) -> bool:
    """An item whose inputs the model cannot vouch for goes to people, whatever its confidence
    (``missing_features = "review"``)."""
    return bool(assessed.warnings) and queue.missing_features == "review"


def route_of(queue: QueueConfig, assessed: Assessed, rng: np.random.Generator) -> RouteDecision:
    if forced_review(queue, assessed):
        return RouteDecision(route="review", audit_probability=1.0)
    return decide_route(
        assessed.confidence, review_below=queue.review_below, audit_rate=queue.audit_rate, rng=rng
    )
