"""The context names each queue's items have carried (``context_keys``), so that a config name
(``fields``, ``segments``, ...) that matches nothing can be pointed out by name."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.tables import ContextKey


def known_context_keys(*, session: Session, queue: str) -> set[str]:
    return set(session.scalars(select(ContextKey.name).where(ContextKey.queue == queue)))


def remember_context_keys(*, session: Session, queue: str, names: Collection[str]) -> None:
    """Record ``names`` as seen in ``queue``'s context; names already known are left alone, and
    two batches recording the same new name at once do not conflict."""
    if not names:
        return
    rows = [{"queue": queue, "name": name} for name in sorted(names)]
    insert = pg_insert if is_postgres(session.get_bind()) else sqlite_insert
    session.execute(insert(ContextKey).values(rows).on_conflict_do_nothing())
