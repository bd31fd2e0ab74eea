"""The rows segment figures are computed from: each answered item's route, what the model and
people said, and its value of each segment (a feature or a context value).

Values are read in SQL with JSON paths (``json_extract`` on SQLite, ``#>`` on PostgreSQL), so
only the few values asked for leave the database, not whole payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import Item, Prediction


@dataclass(frozen=True)
class SegmentRow:
    """A resolved item with a label: what was said, how it was drawn, its segment values."""

    item_pk: int
    route: str
    predicted: str
    answer: str
    sampling_probability: float
    #: segment name → the item's value (a feature wins over a context value of the same name)
    values: dict[str, Any]


def segment_rows(
    *,
    session: Session,
    queue: str,
    names: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[SegmentRow]:
    """Items of ``queue`` resolved with a label (in ``[since, until)`` when given)."""
    columns = []
    for name in names:
        columns += [Item.payload[("features", name)], Item.context[(name,)]]
    query = (
        select(
            Item.id,
            Prediction.route,
            Prediction.label,
            Item.resolved_label,
            Prediction.audit_probability,
            *columns,
        )
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Item.queue == queue, Item.resolved_label.is_not(None))
    )
    if since is not None:
        query = query.where(Item.resolved_at >= since)
    if until is not None:
        query = query.where(Item.resolved_at < until)
    rows = []
    for pk, route, predicted, answer, probability, *found in session.execute(query):
        values = {}
        for i, name in enumerate(names):
            feature, context = found[2 * i], found[2 * i + 1]
            values[name] = feature if feature is not None else context
        rows.append(SegmentRow(pk, route, predicted, str(answer), float(probability), values))
    return rows
