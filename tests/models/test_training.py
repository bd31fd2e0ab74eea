"""The first model of a queue: trained, measured on a held-out part, stored with its examples,
and refused on load when its artifact in the database is not the one that was written."""

from __future__ import annotations

from collections import Counter

import pytest
import sklearn
from sqlalchemy import select, update

from models.artifacts import sha256_hex
from models.errors import ArtifactIntegrityError, BadTrainingData, ModelNotTrained
from models.evaluation import evaluate
from models.pipelines import score
from models.registry import load_current
from models.training import HOLDOUT_FRACTION, train_initial
from storage.registry import list_versions, set_current
from storage.tables import ModelVersion, TrainingExample
from storage.training_data import examples
from tests.factories import LABELS, cancer_rows


def train(sessions, queue="fraud", start=0, n=200, random_state=0, external_ids=None):
    payloads, y = cancer_rows()
    with sessions.begin() as session:
        version = train_initial(
            session=session,
            queue=queue,
            kind="tabular",
            labels=LABELS,
            payloads=payloads[start : start + n],
            y=y[start : start + n],
            external_ids=external_ids,
            random_state=random_state,
        )
        return version.version


def stored_examples(sessions, queue="fraud"):
    with sessions.begin() as session:
        rows = session.scalars(
            select(TrainingExample)
            .where(TrainingExample.queue == queue)
            .order_by(TrainingExample.id)
        ).all()
        return [(r.payload, r.label, r.split, r.external_id) for r in rows]


def test_every_example_is_stored_once_as_train_or_holdout(sessions):
    payloads, y = cancer_rows()
    ids = [f"row-{i}" for i in range(200)]
    train(sessions, external_ids=ids)
    rows = stored_examples(sessions)
    assert [(p, label, i) for p, label, _, i in rows] == list(
        zip(payloads[:200], y[:200], ids, strict=True)
    )
    splits = Counter(split for _, _, split, _ in rows)
    assert set(splits) == {"train", "holdout"}
    assert splits["holdout"] == round(200 * HOLDOUT_FRACTION)
    # stratified: the held-out part has both labels in about the same share
    holdout_labels = Counter(label for _, label, split, _ in rows if split == "holdout")
    share = holdout_labels["fraud"] / splits["holdout"]
    assert abs(share - y[:200].count("fraud") / 200) < 0.05


def test_the_version_is_current_and_records_its_training(sessions):
    version = train(sessions, random_state=3)
    with sessions.begin() as session:
        [row] = list_versions(session=session, queue="fraud")
        n_holdout = len(examples(session=session, queue="fraud", split="holdout")[1])
        n_train = len(examples(session=session, queue="fraud", split="train")[1])
        artifact = row.artifact  # deferred column: read while the session is open
    assert row.version == version == "fraud-v1"
    assert row.state == "current"
    assert row.promoted_at is not None
    assert row.kind == "tabular"
    assert row.labels == {"labels": list(LABELS)}
    assert row.n_train == n_train == 200 - n_holdout
    assert row.info["random_state"] == 3
    assert row.info["n_holdout"] == n_holdout
    assert row.info["sklearn_version"] == sklearn.__version__
    assert row.sha256 == sha256_hex(artifact)


def test_the_metrics_are_those_of_the_stored_model_on_the_held_out_examples(sessions):
    train(sessions)
    with sessions.begin() as session:
        version, pipeline = load_current(session=session, queue="fraud")
        x_holdout, y_holdout = examples(session=session, queue="fraud", split="holdout")
        x_train, y_train = examples(session=session, queue="fraud", split="train")
        recorded = version.metrics["holdout"]
    on_holdout = evaluate(pipeline, "tabular", x_holdout, y_holdout, labels=list(LABELS))
    assert recorded == pytest.approx(on_holdout.as_dict())
    assert recorded["n"] == len(y_holdout)
    # and not the (better) figures on the data it was fitted on
    on_train = evaluate(pipeline, "tabular", x_train, y_train, labels=list(LABELS))
    assert recorded["log_loss"] != pytest.approx(on_train.log_loss)


def test_training_again_replaces_the_examples_and_the_current_version(sessions):
    train(sessions, start=0, n=150)
    second = train(sessions, start=150, n=100)
    rows = stored_examples(sessions)
    payloads, _ = cancer_rows()
    assert [p for p, *_ in rows] == payloads[150:250]
    with sessions.begin() as session:
        states = [(v.version, v.state) for v in list_versions(session=session, queue="fraud")]
        current, _ = load_current(session=session, queue="fraud")
    assert states == [("fraud-v1", "retired"), ("fraud-v2", "current")]
    assert current.version == second == "fraud-v2"


def test_queues_do_not_share_examples_or_versions(sessions):
    train(sessions, queue="fraud", n=120)
    train(sessions, queue="cards", start=200, n=100)
    assert len(stored_examples(sessions, "fraud")) == 120
    assert len(stored_examples(sessions, "cards")) == 100
    with sessions.begin() as session:
        assert load_current(session=session, queue="cards")[0].version == "cards-v1"
        assert load_current(session=session, queue="fraud")[0].version == "fraud-v1"


def test_the_loaded_model_scores_like_its_recorded_metrics_say(sessions):
    train(sessions, n=300)
    payloads, y = cancer_rows()
    with sessions.begin() as session:
        _, pipeline = load_current(session=session, queue="fraud")
    predicted = [s.label for s in score(pipeline, "tabular", payloads[300:400])]
    accuracy = sum(p == t for p, t in zip(predicted, y[300:400], strict=True)) / 100
    assert accuracy > 0.85  # a real model, not a constant: the data is ~63% one class


def test_too_little_or_one_class_data_is_refused_and_nothing_is_stored(sessions):
    payloads, y = cancer_rows()
    legit = [i for i, label in enumerate(y) if label == "legit"][:50]
    for rows in (list(range(5)), legit):
        with pytest.raises(BadTrainingData), sessions.begin() as session:
            train_initial(
                session=session,
                queue="fraud",
                kind="tabular",
                labels=LABELS,
                payloads=[payloads[i] for i in rows],
                y=[y[i] for i in rows],
            )
    assert stored_examples(sessions) == []
    with sessions.begin() as session, pytest.raises(ModelNotTrained, match="hitl train fraud"):
        load_current(session=session, queue="fraud")


# ---------------------------------------------------------------- artifact integrity


def _tamper(sessions, how: str) -> None:
    with sessions.begin() as session:
        v1 = session.scalar(select(ModelVersion).where(ModelVersion.version == "fraud-v1"))
        assert v1 is not None
        artifact = bytes(v1.artifact)
        if how == "flip-a-byte":
            middle = len(artifact) // 2
            artifact = artifact[:middle] + bytes([artifact[middle] ^ 0xFF]) + artifact[middle + 1 :]
        elif how == "truncate":
            artifact = artifact[: len(artifact) - 100]
        elif how == "other-version":
            # a genuine artifact, but not the one recorded for this version
            v2 = session.scalar(select(ModelVersion).where(ModelVersion.version == "fraud-v2"))
            assert v2 is not None
            artifact = bytes(v2.artifact)
        session.execute(
            update(ModelVersion).where(ModelVersion.id == v1.id).values(artifact=artifact)
        )


@pytest.mark.parametrize("how", ["flip-a-byte", "truncate", "other-version"])
def test_a_tampered_artifact_is_refused_on_load(sessions, how):
    # Data and seeds no other test uses, and nothing loaded before tampering: the registry
    # caches loaded pipelines by sha256, so only a first load reads the bytes.
    train(sessions, start=250, n=120, random_state=17)
    if how == "other-version":
        train(sessions, start=370, n=120, random_state=18)
        with sessions.begin() as session:
            set_current(session=session, queue="fraud", version="fraud-v1")
    _tamper(sessions, how)
    with sessions.begin() as session, pytest.raises(ArtifactIntegrityError, match="sha256"):
        load_current(session=session, queue="fraud")
