"""The App Home queries on a real database: who is waiting for what, answers, backlogs, audits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from storage.home_data import (
    QueueBacklog,
    answers_of,
    queue_backlogs,
    waiting_for,
)
from storage.items import NewItem, add_items
from storage.tables import Item, ReviewMessage
from tests.factories import placeholder_version, undo, vote

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def add(
    sessions: sessionmaker[Session],
    queue: str,
    specs: list[tuple[str, str, float, str | None]],
) -> dict[str, int]:
    """Items ``(id, route, audit probability, state)``; a ``posted`` one gets a ts and a
    posted_at one minute per position after T0 (the first is the oldest). state None = auto."""
    with sessions.begin() as session:
        version_id = placeholder_version(session, queue)
        items = add_items(
            session=session,
            queue=queue,
            channel="C0REVIEW",
            model_version_id=version_id,
            items=[
                NewItem(ext, {"features": {"x": 1.0}}, {}, "fraud", 0.6, route, p, 0.4)
                for ext, route, p, _ in specs
            ],
        )
        for n, (item, (_, _, _, state)) in enumerate(zip(items, specs, strict=True)):
            if item.message is not None and state is not None:
                item.message.state = state
                if state == "posted":
                    item.message.ts = f"1700000000.{item.id:06d}"
                    item.message.posted_at = T0 + timedelta(minutes=n)
        return {item.external_id: item.id for item in items}


def test_waiting_for_lists_posted_unanswered_items_oldest_first(sessions):
    pks = add(
        sessions,
        "fraud",
        [
            ("b", "review", 1.0, "posted"),
            ("a", "audit", 0.02, "posted"),
            ("c", "review", 1.0, "posted"),
            ("waiting", "review", 1.0, "waiting"),
            ("failed", "review", 1.0, "failed"),
        ],
    )
    add(sessions, "other", [("o", "review", 1.0, "posted")])
    vote(sessions, pks["c"], "U0BOB")  # resolved by someone else: gone for everyone
    with sessions.begin() as session:  # b was re-posted (after a restart): a is now the oldest
        message = session.scalar(select(ReviewMessage).where(ReviewMessage.item_id == pks["b"]))
        message.posted_at = T0 + timedelta(hours=1)
    with sessions.begin() as session:
        waiting = waiting_for(session=session, user_id="U0ALICE", queues=["fraud"], limit=10)
    assert [w.item_id for w in waiting.items] == ["a", "b"] and waiting.total == 2
    first = waiting.items[0]
    assert (first.queue, first.channel, first.route, first.votes) == (
        "fraud",
        "C0REVIEW",
        "audit",
        0,
    )
    assert first.ts == f"1700000000.{pks['a']:06d}" and first.posted_at == T0 + timedelta(minutes=1)


def test_waiting_for_counts_all_but_returns_the_limit(sessions):
    add(sessions, "fraud", [(f"t-{n}", "review", 1.0, "posted") for n in range(7)])
    with sessions.begin() as session:
        waiting = waiting_for(session=session, user_id="U0ALICE", queues=["fraud"], limit=3)
        nothing = waiting_for(session=session, user_id="U0ALICE", queues=[], limit=3)
        with pytest.raises(ValueError, match="limit"):
            waiting_for(session=session, user_id="U0ALICE", queues=["fraud"], limit=0)
    assert [w.item_id for w in waiting.items] == ["t-0", "t-1", "t-2"] and waiting.total == 7
    assert nothing.items == [] and nothing.total == 0


def test_with_two_votes_required_an_item_waits_for_those_who_have_not_voted(sessions):
    pks = add(sessions, "fraud", [("t-1", "review", 1.0, "posted")])
    vote(sessions, pks["t-1"], "U0BOB", required=2)
    with sessions.begin() as session:
        for_alice = waiting_for(session=session, user_id="U0ALICE", queues=["fraud"], limit=5)
        for_bob = waiting_for(session=session, user_id="U0BOB", queues=["fraud"], limit=5)
    assert [(w.item_id, w.votes) for w in for_alice.items] == [("t-1", 1)]
    assert for_bob.items == [] and for_bob.total == 0


def test_an_undone_vote_puts_the_item_back(sessions):
    pks = add(sessions, "fraud", [("t-1", "review", 1.0, "posted")])
    review_id = vote(sessions, pks["t-1"], "U0ALICE", required=2).votes[0].review_id
    undo(sessions, review_id, "U0ALICE")
    with sessions.begin() as session:
        waiting = waiting_for(session=session, user_id="U0ALICE", queues=["fraud"], limit=5)
    assert [(w.item_id, w.votes) for w in waiting.items] == [("t-1", 0)]


def test_waiting_for_is_one_query(sessions, engine):
    add(sessions, "fraud", [(f"t-{n}", "review", 1.0, "posted") for n in range(20)])
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions.begin() as session:
            waiting_for(session=session, user_id="U0ALICE", queues=["fraud"], limit=20)
            answers_of(session=session, user_id="U0ALICE", queues=["fraud"], since=T0)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 2


def test_answers_of_counts_per_queue_and_lists_the_latest(sessions):
    fraud = add(sessions, "fraud", [(f"f-{n}", "review", 1.0, "posted") for n in range(6)])
    other = add(sessions, "other", [("o-1", "review", 1.0, "posted")])
    # Before Alice answers (a resolved item takes no more votes): Carol's vote, taken back,
    # and Bob's, which counts for him, not for her.
    carols = vote(sessions, fraud["f-5"], "U0CAROL", required=2).votes[0].review_id
    undo(sessions, carols, "U0CAROL")
    vote(sessions, other["o-1"], "U0BOB", required=2)
    for n in range(6):
        vote(sessions, fraud[f"f-{n}"], "U0ALICE", label="legit" if n % 2 else "fraud")
    vote(sessions, other["o-1"], "U0ALICE", required=2)
    with sessions.begin() as session:
        week = datetime.now(UTC) - timedelta(days=7)
        summary = answers_of(
            session=session, user_id="U0ALICE", queues=["fraud", "other"], since=week, recent=3
        )
        only_fraud = answers_of(
            session=session, user_id="U0ALICE", queues=["fraud"], since=week, recent=3
        )
        later = answers_of(
            session=session,
            user_id="U0ALICE",
            queues=["fraud"],
            since=datetime.now(UTC) + timedelta(minutes=1),
        )
        carol = answers_of(session=session, user_id="U0CAROL", queues=["fraud"], since=week)
        bob = answers_of(session=session, user_id="U0BOB", queues=["fraud", "other"], since=week)
    assert summary.per_queue == {"fraud": 6, "other": 1} and summary.total == 7
    assert [(a.queue, a.item_id) for a in summary.recent] == [
        ("other", "o-1"),
        ("fraud", "f-5"),
        ("fraud", "f-4"),
    ]
    assert summary.recent[1].label == "legit" and summary.recent[2].label == "fraud"
    assert only_fraud.per_queue == {"fraud": 6}
    assert later.total == 0 and later.recent == []
    assert carol.total == 0  # an undone vote is no answer
    assert bob.per_queue == {"other": 1}


def test_answers_of_counts_a_queue_whose_answers_are_not_among_the_latest(sessions):
    old = add(sessions, "old", [("o-1", "review", 1.0, "posted")])
    new = add(sessions, "new", [(f"n-{n}", "review", 1.0, "posted") for n in range(4)])
    vote(sessions, old["o-1"], "U0ALICE")
    for n in range(4):
        vote(sessions, new[f"n-{n}"], "U0ALICE")
    with sessions.begin() as session:
        summary = answers_of(
            session=session,
            user_id="U0ALICE",
            queues=["old", "new"],
            since=datetime.now(UTC) - timedelta(days=1),
            recent=2,
        )
    assert summary.per_queue == {"old": 1, "new": 4}
    assert [a.item_id for a in summary.recent] == ["n-3", "n-2"]


def test_queue_backlogs_count_states_and_name_the_current_version(sessions):
    add(
        sessions,
        "fraud",
        [
            ("w1", "review", 1.0, "waiting"),
            ("w2", "review", 1.0, "waiting"),
            ("s", "review", 1.0, "sending"),
            ("p", "review", 1.0, "posted"),
            ("f", "review", 1.0, "failed"),
            ("r", "review", 1.0, "resolved"),
            ("auto", "auto", 0.02, None),
        ],
    )
    with sessions.begin() as session:
        backlogs = queue_backlogs(session=session, queues=["fraud", "empty"])
        version = session.scalar(select(Item).where(Item.external_id == "p")).prediction
        assert version is not None
        name = version.model_version.version
    assert backlogs["fraud"] == QueueBacklog(
        "fraud", waiting=2, open=2, failed=1, model_version=name
    )
    assert backlogs["empty"] == QueueBacklog("empty", 0, 0, 0, None)


def test_message_rows_outside_the_asked_queues_are_ignored(sessions):
    add(sessions, "fraud", [("p", "review", 1.0, "posted")])
    with sessions.begin() as session:
        assert session.scalar(select(ReviewMessage.queue)) == "fraud"
        assert queue_backlogs(session=session, queues=["other"])["other"].open == 0
        assert waiting_for(session=session, user_id="U0A", queues=["other"], limit=1).total == 0
