"""`POST /v1/queues/{queue}/outcomes`: late ground truth, all or nothing like ingestion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.config import QueueConfig
from bot.context import AppContext
from bot.review.ingest import no_nul
from storage.items import existing_items
from storage.outcomes import upsert_outcome


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=255)
    label: str
    source: str | None = Field(default=None, max_length=255)
    observed_at: AwareDatetime | None = None

    @field_validator("id", "label", "source")
    @classmethod
    def _no_nul(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if value is None else no_nul(value, str(info.field_name))


class OutcomesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: list[OutcomeIn] = Field(min_length=1, max_length=1000)


class OutcomeError(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["msg"])
        self.status = status
        self.errors = errors


def parse_outcomes(data: Any, *, queue: QueueConfig) -> list[OutcomeIn]:
    try:
        outcomes = OutcomesIn.model_validate(data).outcomes
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        raise OutcomeError(422, errors) from None
    bad = [
        {
            "loc": ["body", "outcomes", i, "label"],
            "msg": f"must be one of {list(queue.labels)}",
            "type": "value_error",
        }
        for i, o in enumerate(outcomes)
        if o.label not in queue.labels
    ]
    if bad:
        raise OutcomeError(422, bad)
    return outcomes


def record_outcomes(ctx: AppContext, *, queue: QueueConfig, outcomes: list[OutcomeIn]) -> int:
    with ctx.sessions.begin() as session:
        items = existing_items(
            session=session, queue=queue.name, external_ids=[o.id for o in outcomes]
        )
        unknown = [
            {
                "loc": ["body", "outcomes", i, "id"],
                "msg": f"no item {o.id!r} in queue {queue.name!r}",
                "type": "value_error",
            }
            for i, o in enumerate(outcomes)
            if o.id not in items
        ]
        if unknown:
            raise OutcomeError(422, unknown)
        for o in outcomes:
            upsert_outcome(
                session=session,
                item_pk=items[o.id].id,
                label=o.label,
                source=o.source,
                observed_at=o.observed_at or datetime.now(UTC),
            )
    return len(outcomes)
