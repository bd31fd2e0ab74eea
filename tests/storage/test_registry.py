"""The model registry tables: version numbers per queue, exactly one current version per queue,
and the errors a rollback to a version that does not exist gets."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from storage.errors import StorageError, VersionNotFound
from storage.registry import (
    CURRENT,
    REJECTED,
    RETIRED,
    add_version,
    current_version,
    get_version,
    list_versions,
    set_current,
)
from storage.tables import ModelVersion
from tests.factories import placeholder_version


def add(sessions, queue="fraud", *, make_current=True, n_train=10):
    with sessions.begin() as session:
        row = add_version(
            session=session,
            queue=queue,
            kind="tabular",
            artifact=f"{queue}-{n_train}".encode(),
            sha256="0" * 64,
            labels=["legit", "fraud"],
            n_train=n_train,
            metrics={"holdout": {"accuracy": 0.9}},
            info={"source": "test"},
            make_current=make_current,
        )
        return row.version


def states(sessions, queue="fraud"):
    with sessions.begin() as session:
        return [(v.version, v.state) for v in list_versions(session=session, queue=queue)]


def currents(sessions, queue="fraud"):
    with sessions.begin() as session:
        return session.scalar(
            select(func.count()).where(ModelVersion.queue == queue, ModelVersion.state == CURRENT)
        )


def test_versions_are_numbered_per_queue(sessions):
    made = [add(sessions, "fraud"), add(sessions, "cards"), add(sessions, "fraud")]
    made.append(add(sessions, "fraud", make_current=False))
    made.append(add(sessions, "cards"))
    assert made == ["fraud-v1", "cards-v1", "fraud-v2", "fraud-v3", "cards-v2"]
    with sessions.begin() as session:
        numbers = [v.number for v in list_versions(session=session, queue="fraud")]
    assert numbers == [1, 2, 3]


def test_a_new_current_version_retires_the_previous_one(sessions):
    add(sessions)
    add(sessions)
    assert states(sessions) == [("fraud-v1", RETIRED), ("fraud-v2", CURRENT)]
    assert currents(sessions) == 1


def test_a_version_not_made_current_is_rejected_and_changes_nothing(sessions):
    add(sessions)
    add(sessions, make_current=False)
    assert states(sessions) == [("fraud-v1", CURRENT), ("fraud-v2", REJECTED)]
    with sessions.begin() as session:
        current = current_version(session=session, queue="fraud")
        assert current is not None and current.version == "fraud-v1"


def test_set_current_rolls_back_and_forth_with_one_current_per_queue(sessions):
    for _ in range(3):
        add(sessions)
    add(sessions, "cards")
    for target in ("fraud-v1", "fraud-v3", "fraud-v2", "fraud-v2"):
        with sessions.begin() as session:
            row = set_current(session=session, queue="fraud", version=target)
            assert row.version == target and row.state == CURRENT
        fraud = states(sessions)
        assert [v for v, s in fraud if s == CURRENT] == [target]
        assert {s for v, s in fraud if v != target} == {RETIRED}
    # the other queue's current version is untouched
    assert states(sessions, "cards") == [("cards-v1", CURRENT)]


def test_set_current_records_when_it_was_promoted(sessions):
    add(sessions)
    add(sessions)
    with sessions.begin() as session:
        before = get_version(session=session, queue="fraud", version="fraud-v1").promoted_at
    with sessions.begin() as session:
        set_current(session=session, queue="fraud", version="fraud-v1")
    with sessions.begin() as session:
        after = get_version(session=session, queue="fraud", version="fraud-v1").promoted_at
    assert before is not None and after is not None and after > before


@pytest.mark.parametrize(
    ("queue", "version"),
    [("fraud", "fraud-v9"), ("fraud", "cards-v1"), ("nope", "fraud-v1"), ("fraud", "")],
    ids=["no-such-number", "other-queue", "unknown-queue", "empty"],
)
def test_an_unknown_version_is_an_error_that_changes_nothing(sessions, queue, version):
    add(sessions)
    add(sessions, "cards")
    with pytest.raises(VersionNotFound) as caught, sessions.begin() as session:
        set_current(session=session, queue=queue, version=version)
    assert isinstance(caught.value, StorageError)  # the CLI turns these into exit code 2
    assert repr(version) in str(caught.value) and repr(queue) in str(caught.value)
    assert states(sessions) == [("fraud-v1", CURRENT)]
    assert states(sessions, "cards") == [("cards-v1", CURRENT)]
    with pytest.raises(VersionNotFound), sessions.begin() as session:
        get_version(session=session, queue=queue, version=version)


def test_a_queue_without_versions_has_no_current_one(sessions):
    add(sessions, "cards")
    with sessions.begin() as session:
        assert current_version(session=session, queue="fraud") is None
        assert list_versions(session=session, queue="fraud") == []


def test_two_rollbacks_at_the_same_moment_leave_one_current_version(sessions):
    """A rollback waits for one in progress, then retires what that one made current."""
    for _ in range(3):
        add(sessions)
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with sessions.begin() as session:
                set_current(session=session, queue="fraud", version="fraud-v2")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with sessions.begin() as session:
        set_current(session=session, queue="fraud", version="fraud-v1")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # let the second rollback reach the database and wait there
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert not errors, errors
    assert currents(sessions) == 1
    assert [v for v, s in states(sessions) if s == CURRENT] == ["fraud-v2"]


def test_two_versions_stored_at_once_get_the_next_two_numbers(sessions):
    """The second writer waits for the first to commit instead of failing on the number."""
    first_stored, let_first_commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        with sessions.begin() as session:
            placeholder_version(session)
            first_stored.set()
            let_first_commit.wait(timeout=30)

    def second() -> None:
        first_stored.wait(timeout=30)
        try:
            with sessions.begin() as session:
                placeholder_version(session)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_stored.wait(timeout=30)
    time.sleep(0.3)  # let the second writer reach the database while the first is open
    let_first_commit.set()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with sessions.begin() as session:
        versions = [(v.version, v.state) for v in list_versions(session=session, queue="fraud")]
    assert versions == [("fraud-v1", "retired"), ("fraud-v2", "current")]
