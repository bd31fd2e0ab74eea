"""Retraining on a real database: corrupted answers are rejected, good ones promoted,
outcomes override answers, rollback restores scoring with the old version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.artifacts import load_pipeline
from models.registry import load_current
from models.retraining import retrain
from storage.items import NewItem, add_items
from storage.labels import resolved_items
from storage.outcomes import upsert_outcome
from storage.registry import list_versions, set_current
from storage.tables import Item
from tests.factories import LABELS, cancer_rows, seed_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def resolve(sessions, rows, labels, *, route="review"):
    """Store items as if people had answered them with ``labels``."""
    payloads, _ = cancer_rows()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with sessions.begin() as session:
        version, _ = load_current(session=session, queue="fraud")
        items = add_items(
            session=session,
            queue="fraud",
            channel="C0REVIEW",
            model_version_id=version.id,
            items=[
                NewItem(
                    f"t-{i}",
                    payloads[i],
                    {},
                    "legit",
                    0.6,
                    route,
                    1.0 if route == "review" else 0.5,
                    0.4,
                )
                for i in rows
            ],
        )
        for n, (item, label) in enumerate(zip(items, labels, strict=True)):
            item.resolved_label = label
            item.resolved_at = start + timedelta(minutes=n)
    return items


def test_corrupted_answers_are_rejected_and_good_ones_promoted(sessions):
    seed_model(sessions)  # trained on rows 0..299 (and their hold-out)
    _, y = cancer_rows()
    rows = list(range(300, 569))
    # Answers that say the opposite of the truth for every item.
    flipped = [LABELS[1 - LABELS.index(y[i])] for i in rows]
    resolve(sessions, rows, flipped)
    with sessions.begin() as session:
        bad = retrain(session=session, queue="fraud", kind="tabular", labels=LABELS)
    assert not bad.promoted and "fell" in bad.reason
    with sessions.begin() as session:
        assert load_current(session=session, queue="fraud")[0].version == "fraud-v1"
        session.query(Item).delete()
    resolve(sessions, rows, [y[i] for i in rows])
    with sessions.begin() as session:
        good = retrain(session=session, queue="fraud", kind="tabular", labels=LABELS)
        states = {v.version: v.state for v in list_versions(session=session, queue="fraud")}
    assert good.promoted, good.reason
    assert states == {"fraud-v1": "retired", "fraud-v2": "rejected", "fraud-v3": "current"}


def test_outcome_overrides_the_answer_in_the_training_set(sessions):
    seed_model(sessions)
    items = resolve(sessions, [300], ["legit"])
    with sessions.begin() as session:
        upsert_outcome(
            session=session,
            item_pk=items[0].id,
            label="fraud",
            source="chargeback",
            observed_at=datetime.now(UTC),
        )
    from storage.labels import outcomes

    with sessions.begin() as session:
        labels, _ = outcomes(session=session, queue="fraud")
        [answer] = resolved_items(session=session, queue="fraud")
    from models.selection import HumanLabel, assemble_training_set

    _, y, _ = assemble_training_set(
        [],
        [HumanLabel(answer.payload, answer.label, 1.0, answer.resolved_at, answer.item_id)],
        labels,
    )
    assert answer.label == "legit" and y == ["fraud"]


def test_rollback_restores_scoring_with_the_old_version(sessions):
    seed_model(sessions)
    _, y = cancer_rows()
    resolve(sessions, range(300, 569), [y[i] for i in range(300, 569)])
    with sessions.begin() as session:
        assert retrain(session=session, queue="fraud", kind="tabular", labels=LABELS).promoted
        assert load_current(session=session, queue="fraud")[0].version == "fraud-v2"
        set_current(session=session, queue="fraud", version="fraud-v1")
    payloads, _ = cancer_rows()
    probe = [p["features"] for p in payloads[300:340]]
    with sessions.begin() as session:
        version, pipeline = load_current(session=session, queue="fraud")
        v1, v2 = list_versions(session=session, queue="fraud")
        # Fresh loads of the stored artifacts, bypassing the process cache.
        old = load_pipeline(v1.artifact, expected_sha256=v1.sha256)
        new = load_pipeline(v2.artifact, expected_sha256=v2.sha256)
    assert version.version == "fraud-v1"
    served = pipeline.predict_proba(probe)
    np.testing.assert_array_equal(served, old.predict_proba(probe))
    assert not np.array_equal(served, new.predict_proba(probe))
