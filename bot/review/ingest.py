"""Ingestion: validate a batch, score it with the current model, route it, store it atomically.

Used by the HTTP API and by `hitl ingest`. A batch is all or nothing: a bad item rejects the
batch before anything is written, and the write is one transaction.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.exc import IntegrityError

from bot.config import QueueConfig
from bot.context import AppContext
from bot.review.control import add_controls
from bot.review.inputs import Warning, config_warnings, item_warnings, reject_errors
from bot.review.scoring import assess, feature_schema_of, route_of
from models.pipelines import input_problems
from models.registry import load_current
from models.routing import review_priority
from storage.context_keys import known_context_keys, remember_context_keys
from storage.items import NewItem, add_items, existing_items
from storage.registry import current_version
from storage.tables import Item

MAX_ITEMS = 1000
FeatureValue = float | int | str | bool | None
ContextValue = str | float | int

_rng_lock = threading.Lock()


#: Largest magnitude of a numeric feature. Scaling divides by the largest value seen in
#: training, so a value near 1e308 overflows to infinity and the model refuses the whole batch;
#: 1e100 leaves room for any scale while refusing nothing a real feature holds.
MAX_FEATURE_MAGNITUDE = 1e100


def _check_values(
    values: dict[str, Any],
    *,
    what: str,
    allowed: tuple[type, ...],
    expected: str,
    max_magnitude: float | None = None,
) -> None:
    # Checked here rather than with a union type, so that one bad value is one error located
    # at the field (`items.1.features`), not one error per union member.
    for name, x in values.items():
        if not isinstance(x, allowed) or (isinstance(x, bool) and bool not in allowed):
            raise ValueError(f"{what} {name!r} must be {expected}, not {type(x).__name__}")
        if isinstance(x, bool) or not isinstance(x, int | float):
            continue
        try:
            number = float(x)
        except OverflowError:  # an integer of hundreds of digits
            raise ValueError(f"{what} {name!r} is too large for a 64-bit float") from None
        if not math.isfinite(number):
            raise ValueError(f"{what} {name!r} is not a finite number")
        if max_magnitude is not None and abs(number) > max_magnitude:
            raise ValueError(
                f"{what} {name!r} is out of range: at most {max_magnitude:g} in absolute value"
            )


def no_nul(value: str, what: str = "value") -> str:
    """PostgreSQL text cannot hold NUL: refuse it at the edge, naming the field."""
    if "\x00" in value:
        raise ValueError(f"{what} must not contain a NUL character")
    return value


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=255)
    features: dict[str, Any] | None = None
    text: str | None = Field(default=None, max_length=40_000)
    context: dict[str, Any] = Field(default_factory=dict, max_length=100)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return no_nul(value, "id")

    @field_validator("features")
    @classmethod
    def _features(cls, value: dict[str, FeatureValue] | None) -> dict[str, FeatureValue] | None:
        allowed = (float, int, str, bool, type(None))
        _check_values(
            value or {},
            what="feature",
            allowed=allowed,
            expected="a number or a string",
            max_magnitude=MAX_FEATURE_MAGNITUDE,
        )
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
    #: ``{"code", "fields", "message"}`` about the item's inputs (``bot.review.inputs``).
    warnings: tuple[Warning, ...] = ()
    #: Scored by this call (False: stored by an earlier one and answered as stored).
    new: bool = field(default=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The contract's answer; ``warnings`` only on an item that has some, so an ordinary
        answer keeps exactly the shape producers parse."""
        answer: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "confidence": self.confidence,
            "route": self.route,
            "model_version": self.model_version,
        }
        if self.warnings:
            answer["warnings"] = list(self.warnings)
        return answer


def warning_counts(answers: Sequence[Scored]) -> dict[str, int]:
    """Warnings of the items scored by this call, by code: what a metrics counter adds up
    (items answered as stored were counted when they were scored)."""
    counts: dict[str, int] = {}
    for answer in answers:
        if answer.new:
            for warning in answer.warnings:
                counts[warning["code"]] = counts.get(warning["code"], 0) + 1
    return counts


def _payload(item: ItemIn, kind: str) -> dict[str, Any]:
    return {"features": item.features} if kind == "tabular" else {"text": item.text}


def _answer(item: Item, *, new: bool) -> Scored:
    p = item.prediction
    assert p is not None
    warnings = tuple(p.warnings or ())
    return Scored(
        item.external_id, p.label, p.confidence, p.route, p.model_version.version, warnings, new
    )


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
            assessed = assess(queue, version, pipeline, payloads)
            if queue.missing_features == "reject":
                index_of: dict[str, int] = {}
                for index, item in enumerate(items):
                    index_of.setdefault(item.id, index)
                errors = reject_errors(list(fresh), [a.warnings for a in assessed], index_of)
                if errors:
                    raise BatchError(errors)  # the transaction rolls back: nothing is stored
            new_items = []
            with _rng_lock:
                for item, payload, a in zip(fresh.values(), payloads, assessed, strict=True):
                    decision = route_of(queue, a, ctx.rng)
                    new_items.append(
                        NewItem(
                            external_id=item.id,
                            payload=payload,
                            context=dict(item.context),
                            label=a.label,
                            confidence=a.confidence,
                            route=decision.route,
                            audit_probability=decision.audit_probability,
                            priority=priority_for(queue, payload, a.confidence),
                            explanation=a.explanation,
                            warnings=a.warnings,
                        )
                    )
            stored = add_items(
                session=session,
                queue=queue.name,
                channel=queue.channel,
                model_version_id=version.id,
                items=new_items,
            )
            remember_context_keys(
                session=session,
                queue=queue.name,
                names={name for item in fresh.values() for name in item.context},
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
        answers = [_answer(item, new=False) for item in known.values()]
        answers += [_answer(item, new=True) for item in stored]
        by_id = {answer.id: answer for answer in answers}
        answers = [by_id[i] for i in ids]
    if any(a.route != "auto" for a in answers):
        ctx.wake_delivery.set()
    return answers


def input_errors(ctx: AppContext, *, queue: QueueConfig, items: Sequence[ItemIn]) -> list[dict]:
    """With ``missing_features = "reject"``, the errors ``ingest`` would answer for ``items``:
    lets `hitl ingest` check every batch of a file before it stores any."""
    if queue.missing_features != "reject" or queue.kind != "tabular":
        return []
    with ctx.sessions.begin() as session:
        version = current_version(session=session, queue=queue.name)
        schema = feature_schema_of(version) if version is not None else None
    if schema is None:
        return []
    payloads = [_payload(item, queue.kind) for item in items]
    warnings = [item_warnings(p) for p in input_problems(queue.kind, schema, payloads)]
    index_of = {item.id: i for i, item in reversed(list(enumerate(items)))}
    return reject_errors([item.id for item in items], warnings, index_of)


def queue_warnings(ctx: AppContext, *, queue: QueueConfig) -> list[Warning]:
    """Warnings about the queue's config rather than an item (``bot.review.inputs``): names
    that match neither an input of the current model nor any context seen so far."""
    with ctx.sessions.begin() as session:
        version = current_version(session=session, queue=queue.name)
        if version is None:
            return []
        seen = known_context_keys(session=session, queue=queue.name)
        return config_warnings(queue, feature_schema_of(version), seen)


def priority_for(queue: QueueConfig, payload: dict[str, Any], confidence: float) -> float:
    """Where a waiting item stands in line: uncertainty, times the queue's ``priority_field``
    (e.g. the amount at risk) when it has one, so a limited budget goes where it matters."""
    if queue.priority_field is None:
        return review_priority(confidence)
    value = (payload.get("features") or {}).get(queue.priority_field)
    weight = float(value) if isinstance(value, int | float) and value > 0 else 1.0
    return review_priority(confidence, weight=weight)
