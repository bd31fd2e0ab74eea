"""Late ground truth (chargebacks, complaints): one outcome per item, the latest wins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import Outcome


def upsert_outcome(
    *, session: Session, item_pk: int, label: str, source: str | None, observed_at: datetime
) -> None:
    row = session.scalar(select(Outcome).where(Outcome.item_id == item_pk))
    if row is None:
        session.add(Outcome(item_id=item_pk, label=label, source=source, observed_at=observed_at))
    else:
        row.label, row.source, row.observed_at = label, source, observed_at
