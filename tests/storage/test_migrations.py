"""The migrations build exactly the tables ``storage.tables`` declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.tables import Base


def test_the_migrated_schema_matches_the_tables(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    # APScheduler creates its own table at run time; it is not ours to declare.
    differences = [d for d in differences if "apscheduler_jobs" not in str(d)]
    assert differences == []
