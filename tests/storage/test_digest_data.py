"""Versions made current, for the chart's marks: promotions, and rollbacks to older versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.digest_data import VersionEvent, version_events
from storage.tables import ModelVersion

T0 = datetime(2026, 9, 7, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_version_made_current_after_a_newer_one_existed_is_a_rollback(sessions) -> None:
    with sessions.begin() as session:
        for number, created, promoted, state in (
            (1, 0, 25, "current"),  # rolled back to on day 25
            (2, 10, 11, "retired"),
            (3, 20, None, "rejected"),
            (4, 21, 22, "retired"),
        ):
            session.add(
                ModelVersion(
                    queue="fraud",
                    number=number,
                    version=f"fraud-v{number}",
                    kind="tabular",
                    state=state,
                    artifact=b"x",
                    sha256="0" * 64,
                    labels={"labels": ["legit", "fraud"]},
                    n_train=1,
                    metrics={},
                    info={},
                    created_at=T0 + created * DAY,
                    promoted_at=None if promoted is None else T0 + promoted * DAY,
                )
            )
    with sessions.begin() as session:
        events = version_events(
            session=session, queue="fraud", start=T0 + 5 * DAY, end=T0 + 30 * DAY
        )
        assert events == [
            VersionEvent("fraud-v2", T0 + 11 * DAY, rollback=False),
            VersionEvent("fraud-v4", T0 + 22 * DAY, rollback=False),
            VersionEvent("fraud-v1", T0 + 25 * DAY, rollback=True),
        ]
        assert version_events(session=session, queue="fraud", start=T0, end=T0 + 5 * DAY) == []
