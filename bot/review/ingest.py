"""Ingestion: validate a batch, score it with the current model, route it, store it atomically.

Used by the HTTP API and by `hitl ingest`. A batch is all or nothing: a bad item rejects the
batch before anything is written, and the write is one transaction.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.exc import IntegrityError

from bot.config import QueueConfig
from bot.context import AppContext
from bot.review.control import add_controls
from models.pipelines import score
from models.registry import load_current
from models.routing import decide_route, review_priority
from storage.items import NewItem, add_items, existing_items
from storage.tables import Item

MAX_ITEMS = 1000
FeatureValue = float | int | str | bool | None
ContextValue = str | float | int

_rng_lock = threading.Lock()


def _check_values(
    values: dict[str, Any], *, what: str, allowed: tuple[type, ...], expected: str
) -> None:
    # Checked here rather than with a union type, so that one bad value is one error located
    # at the field (`items.1.features`), not one error per union member.
    for name, x in values.items():
        if not isinstance(x, allowed) or (isinstance(x, bool) and bool not in allowed):
            raise ValueError(f"{what} {name!r} must be {expected}, not {type(x).__name__}")
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError(f"{what} {name!r} is not a finite number")


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=255)
    features: dict[str, Any] | None = None
    text: str | None = Field(default=None, max_length=40_000)
    context: dict[str, Any] = Field(default_factory=dict, max_length=100)

    @field_validator("features")
    @classmethod
    def _features(cls, value: dict[str, FeatureValue] | None) -> dict[str, FeatureValue] | None:
        allowed = (float, int, str, bool, type(None))
        _check_values(value or {}, what="feature", allowed=allowed, expected="a number or a string")
        return value

    @field_validator("context")
    @classmethod
    def _context(cls, value: dict[str, ContextValue]) -> dict[str, ContextValue]:
        allowed = (float, int, str)
        _check_values(value, what="context value", allowed=allowed, expected="a string or a number")
        return value


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class BatchError(Exception):
    """A batch that does not fit its queue; ``errors`` are FastAPI-shaped (loc, msg, type)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{errors[0]['loc']}: {errors[0]['msg']}")
        self.errors = errors


def parse_batch(data: Any, *, queue: QueueConfig) -> list[ItemIn]:
    """Validate a request body; errors name the item index and the field."""
    try:
        batch = ItemsIn.model_validate(data)
    except ValidationError as exc:
        raise BatchError(
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        ) from None
    needed = "features" if queue.kind == "tabular" else "text"
    errors = [
        {
            "loc": ["body", "items", i, needed],
            "msg": f"a {queue.kind} queue needs {needed!r}",
            "type": "missing",
        }
        for i, item in enumerate(batch.items)
        if getattr(item, needed) is None
    ]
    if errors:
        raise BatchError(errors)
    return batch.items


@dataclass(frozen=True)
class Scored:
    id: str
    label: str
    confidence: float
    route: str
    model_version: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "confidence": self.confidence,
            "route": self.route,
            "model_version": self.model_version,
        }


def _payload(item: ItemIn, kind: str) -> dict[str, Any]:
    return {"features": item.features} if kind == "tabular" else {"text": item.text}


def _answer(item: Item) -> Scored:
    p = item.prediction
    assert p is not None
    return Scored(item.external_id, p.label, p.confidence, p.route, p.model_version.version)


def ingest(ctx: AppContext, *, queue: QueueConfig, items: Sequence[ItemIn]) -> list[Scored]:
    """Score and store ``items`` (idempotent on ``id``); answer one result per input item."""
    try:
        return _ingest_once(ctx, queue=queue, items=items)
    except IntegrityError:
        # Another request stored some of these ids in the meantime: answer what it stored.
        return _ingest_once(ctx, queue=queue, items=items)


def _ingest_once(ctx: AppContext, *, queue: QueueConfig, items: Sequence[ItemIn]) -> list[Scored]:
    ids = [item.id for item in items]
    with ctx.sessions.begin() as session:
        known = existing_items(session=session, queue=queue.name, external_ids=ids)
        fresh: dict[str, ItemIn] = {}
        for item in items:
            if item.id not in known:
                fresh.setdefault(item.id, item)
        stored: list[Item] = []
        if fresh:
            version, pipeline = load_current(session=session, queue=queue.name)
            payloads = [_payload(item, queue.kind) for item in fresh.values()]
            predictions = score(pipeline, queue.kind, payloads)
            new_items = []
            with _rng_lock:
                for item, payload, p in zip(fresh.values(), payloads, predictions, strict=True):
                    decision = decide_route(
                        p.confidence,
                        review_below=queue.review_below,
                        audit_rate=queue.audit_rate,
                        rng=ctx.rng,
                    )
                    new_items.append(
                        NewItem(
                            external_id=item.id,
                            payload=payload,
                            context=dict(item.context),
                            label=p.label,
                            confidence=p.confidence,
                            route=decision.route,
                            audit_probability=decision.audit_probability,
                            priority=priority_for(queue, payload, p.confidence),
                        )
                    )
            stored = add_items(
                session=session,
                queue=queue.name,
                channel=queue.channel,
                model_version_id=version.id,
                items=new_items,
            )
            messages = sum(1 for new in new_items if new.route != "auto")
            if messages and queue.gold_rate > 0:
                with _rng_lock:
                    add_controls(
                        session,
                        queue=queue,
                        version=version,
                        pipeline=pipeline,
                        messages=messages,
                        rng=ctx.rng,
                    )
        by_id = {**known, **{item.external_id: item for item in stored}}
        answers = [_answer(by_id[i]) for i in ids]
    if any(a.route != "auto" for a in answers):
        ctx.wake_delivery.set()
    return answers


def priority_for(queue: QueueConfig, payload: dict[str, Any], confidence: float) -> float:
    """Where a waiting item stands in line: uncertainty, times the queue's ``priority_field``
    (e.g. the amount at risk) when it has one, so a limited budget goes where it matters."""
    if queue.priority_field is None:
        return review_priority(confidence)
    value = (payload.get("features") or {}).get(queue.priority_field)
    weight = float(value) if isinstance(value, int | float) and value > 0 else 1.0
    return review_priority(confidence, weight=weight)
