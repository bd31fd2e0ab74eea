"""Votes and undos on a real database, including clicks that arrive at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.items import NewItem, add_items
from storage.reviews import (
    UndoResult,
    VoteResult,
    active_votes,
    active_votes_of,
    majority,
    undo_vote,
)
from storage.tables import Review, ReviewMessage
from tests.factories import placeholder_version, undo, vote


def make_item(sessions: sessionmaker[Session], external_id: str = "t-1") -> int:
    with sessions.begin() as session:
        version_id = placeholder_version(session)
        [item] = add_items(
            session=session,
            queue="fraud",
            channel="C1",
            model_version_id=version_id,
            items=[
                NewItem(
                    external_id, {"features": {"amount": 1}}, {}, "fraud", 0.6, "review", 1.0, 0.4
                )
            ],
        )
        item.message.state = "posted"  # type: ignore[union-attr]
        return item.id


def count_votes(sessions, item_pk) -> int:
    with sessions.begin() as session:
        return session.scalar(select(func.count()).where(Review.item_id == item_pk))


def test_first_vote_resolves_and_marks_message(sessions):
    pk = make_item(sessions)
    outcome = vote(sessions, pk, "U1")
    assert outcome.result is VoteResult.RECORDED
    assert outcome.resolved and outcome.resolved_label == "fraud"
    with sessions.begin() as session:
        assert session.scalar(select(ReviewMessage.state)) == "resolved"


def test_double_click_and_retry_record_one_vote(sessions):
    pk = make_item(sessions)
    assert vote(sessions, pk, "U1", key="a").result is VoteResult.RECORDED
    assert vote(sessions, pk, "U1", key="a").result is VoteResult.DUPLICATE  # Slack retry
    assert vote(sessions, pk, "U1", key="b").result is VoteResult.DUPLICATE  # double click
    assert vote(sessions, pk, "U2").result is VoteResult.ALREADY_RESOLVED
    assert count_votes(sessions, pk) == 1


def test_votes_required_two_waits_for_second_person(sessions):
    pk = make_item(sessions)
    first = vote(sessions, pk, "U1", required=2)
    assert first.result is VoteResult.RECORDED and not first.resolved
    second = vote(sessions, pk, "U2", label="legit", required=2)
    assert second.resolved and second.resolved_label is None  # 1–1 tie stays unresolved
    assert [v.user_id for v in second.votes] == ["U1", "U2"]


@pytest.mark.parametrize("required", [1, 2, 3])
def test_concurrent_clicks_record_exactly_votes_required(sessions, required):
    pk = make_item(sessions)
    users = [f"U{i}" for i in range(8)]
    barrier = threading.Barrier(len(users))
    results: list[VoteResult] = []

    def click(user: str) -> None:
        barrier.wait()
        results.append(vote(sessions, pk, user, required=required).result)

    threads = [threading.Thread(target=click, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(VoteResult.RECORDED) == required
    assert count_votes(sessions, pk) == required


def test_undo_reopens_item_and_keeps_history(sessions):
    pk = make_item(sessions)
    outcome = vote(sessions, pk, "U1")
    review_id = outcome.votes[0].review_id
    with sessions.begin() as session:
        assert (
            undo_vote(
                session=session,
                review_id=review_id,
                user_id="U2",
                request_key="x",
                window=timedelta(minutes=5),
            )[0]
            is UndoResult.NOT_YOURS
        )
        result, item = undo_vote(
            session=session,
            review_id=review_id,
            user_id="U1",
            request_key="u1",
            window=timedelta(minutes=5),
        )
        assert result is UndoResult.UNDONE and item.resolved_at is None
        assert active_votes(session=session, item_pk=pk) == ()
        assert session.scalar(select(ReviewMessage.state)) == "posted"
    assert count_votes(sessions, pk) == 2  # the vote and its undo
    assert vote(sessions, pk, "U1", label="legit", key="again").resolved_label == "legit"


def test_undo_after_window_is_refused(sessions):
    pk = make_item(sessions)
    review_id = vote(sessions, pk, "U1").votes[0].review_id
    with sessions.begin() as session:
        result, _ = undo_vote(
            session=session,
            review_id=review_id,
            user_id="U1",
            request_key="u",
            window=timedelta(seconds=0),
        )
    assert result is UndoResult.EXPIRED


def test_majority():
    from datetime import UTC, datetime

    from storage.reviews import ActiveVote

    at = datetime.now(UTC)
    votes = tuple(ActiveVote(i, f"U{i}", label, at) for i, label in enumerate("aab"))
    assert majority(votes) == "a"
    assert majority(votes[1:]) is None
    assert majority(()) is None


def test_active_votes_of_many_items_match_each_items_own(sessions):
    first, second, unvoted = (make_item(sessions, f"t-{n}") for n in range(3))
    vote(sessions, first, "U1", required=3)
    taken_back = vote(sessions, first, "U2", label="legit", required=3).votes[-1].review_id
    vote(sessions, second, "U3", required=3)
    undo(sessions, taken_back, "U2")
    with sessions.begin() as session:
        many = active_votes_of(session=session, item_pks=[first, second, unvoted])
        one_by_one = {pk: active_votes(session=session, item_pk=pk) for pk in many}
        assert active_votes_of(session=session, item_pks=[]) == {}
    assert many == one_by_one
    assert [v.user_id for v in many[first]] == ["U1"]
    assert [v.user_id for v in many[second]] == ["U3"] and many[unvoted] == ()
