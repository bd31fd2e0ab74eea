"""Retraining on a real database: corrupted answers are rejected, good ones promoted,
outcomes override answers, rollback restores scoring with the old version and pins the queue,
no new answers make no candidate, and the ratchet's floor is the best version once in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.artifacts import load_pipeline
from models.registry import load_current
from models.retraining import best_earlier, retrain
from models.training import train_initial
from storage.items import NewItem, add_items
from storage.labels import resolved_items
from storage.outcomes import upsert_outcome
from storage.pins import pin, unpin
from storage.registry import current_version, list_versions, set_current
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


def _fraud_file_and_answers(seed: int) -> tuple[list, list, list]:
    """The reported case: a labelled file of 150 card transactions with 10 frauds (its trusted
    hold-out: 30 rows, 2 frauds), then 304 other transactions."""
    from models.datasets import credit_card_fraud

    data = credit_card_fraud(n=2000, random_state=0)
    rng = np.random.default_rng(seed)
    frauds = rng.permutation([i for i, y in enumerate(data.y) if y == "fraud"]).tolist()
    legit = rng.permutation([i for i, y in enumerate(data.y) if y == "legit"]).tolist()
    file_rows, later = frauds[:10] + legit[:140], frauds[10:30] + legit[140:424]
    return data, file_rows, later


def test_all_wrong_answers_on_a_150_row_file_are_not_promoted(sessions):
    """Reported: 304 answers, every one wrong, on a queue whose hold-out held 2 frauds; average
    precision rose by chance on those 2 and `hitl retrain` promoted the candidate."""
    data, file_rows, later = _fraud_file_and_answers(seed=2)
    with sessions.begin() as session:
        train_initial(
            session=session,
            queue="fraud",
            kind="tabular",
            labels=LABELS,
            payloads=[data.payloads[i] for i in file_rows],
            y=[data.y[i] for i in file_rows],
        )
        version, _ = load_current(session=session, queue="fraud")
        items = add_items(
            session=session,
            queue="fraud",
            channel="C0REVIEW",
            model_version_id=version.id,
            items=[NewItem(data.ids[i], data.payloads[i], {}, "legit", 0.6, "review", 1.0, 0.4)
                   for i in later],
        )  # fmt: skip
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for n, (item, row) in enumerate(zip(items, later, strict=True)):
            item.resolved_label = "legit" if data.y[row] == "fraud" else "fraud"
            item.resolved_at = start + timedelta(minutes=n)
    with sessions.begin() as session:
        result = retrain(session=session, queue="fraud", kind="tabular", labels=LABELS)
    assert not result.promoted, result.reason
    assert "average_precision on trusted_holdout not judged: 2 positives, too few" in (
        result.reason
    )
    assert "accuracy on trusted_holdout fell" in result.reason


def test_a_pinned_queue_makes_no_candidate_until_unpinned(sessions):
    seed_model(sessions)
    _, y = cancer_rows()
    resolve(sessions, range(300, 569), [y[i] for i in range(300, 569)])
    with sessions.begin() as session:
        pin(session=session, queue="fraud", version="fraud-v1", by="alice")
    with sessions.begin() as session:
        pinned = retrain(session=session, queue="fraud", kind="tabular", labels=LABELS)
        assert [v.version for v in list_versions(session=session, queue="fraud")] == ["fraud-v1"]
    assert (pinned.promoted, pinned.version, pinned.reason) == (False, None, "pinned to fraud-v1")
    with sessions.begin() as session:
        unpin(session=session, queue="fraud", by="alice")
        assert retrain(session=session, queue="fraud", kind="tabular", labels=LABELS).candidate


def test_no_new_answers_since_the_last_candidate_makes_none(sessions):
    seed_model(sessions)
    _, y = cancer_rows()
    resolve(sessions, range(300, 400), [y[i] for i in range(300, 400)])
    with sessions.begin() as session:
        first = retrain(session=session, queue="fraud", kind="tabular", labels=LABELS)
    with sessions.begin() as session:
        again = retrain(session=session, queue="fraud", kind="tabular", labels=LABELS)
        versions = list_versions(session=session, queue="fraud")
    assert first.candidate and not again.candidate
    assert again.reason == "no new answers" and len(versions) == 2
    resolve(sessions, [400], [y[400]])
    with sessions.begin() as session:
        assert retrain(session=session, queue="fraud", kind="tabular", labels=LABELS).candidate


def test_the_floor_is_the_best_version_ever_in_use_on_the_same_holdout(sessions):
    """The ratchet compares with the version that scored best on this hold-out among those once
    in use: not a rejected candidate (it was never trusted), not one measured on another file."""
    from storage.registry import add_version

    def version(accuracy: float, key: str, current: bool) -> None:
        add_version(
            session=session,
            queue="fraud",
            kind="tabular",
            artifact=b"x",
            sha256="0" * 64,
            labels=list(LABELS),
            n_train=10,
            metrics={"holdout": {"accuracy": accuracy, "log_loss": 1 - accuracy}},
            info={"holdout_key": key},
            make_current=current,
        )

    with sessions.begin() as session:
        version(0.90, "k", True)  # v1
        version(0.97, "k", True)  # v2: the best in use
        version(0.99, "k", False)  # v3: rejected
        version(0.995, "other", True)  # v4: another hold-out
        version(0.93, "k", True)  # v5: current
        current = load_current_row(session)
        floors = best_earlier(session, "fraud", "k", ["accuracy", "log_loss"], current)
        assert {v.version: m for v, m in floors.items()} == {"fraud-v2": ["accuracy", "log_loss"]}
        assert best_earlier(session, "fraud", "other", ["accuracy"], current) != {}


def load_current_row(session):
    row = current_version(session=session, queue="fraud")
    assert row is not None
    return row
