"""Due reminders and escalations, and claims that hold under concurrent callers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from storage.reminders import claim, due_messages, release
from storage.tables import Item, ReviewMessage

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def add_message(
    sessions,
    external_id: str,
    *,
    queue: str = "fraud",
    state: str = "posted",
    posted_ago: timedelta | None = 2 * HOUR,
    ts: str | None = "default",
    reminded: bool = False,
    escalated: bool = False,
) -> int:
    with sessions.begin() as session:
        item = Item(queue=queue, external_id=external_id, payload={"text": "x"}, context={})
        posted_at = NOW - posted_ago if posted_ago is not None else None
        message = ReviewMessage(
            item=item,
            queue=queue,
            channel="C0REVIEW",
            state=state,
            priority=0.5,
            ts=f"1714996800.{len(external_id):06d}" if ts == "default" else ts,
            posted_at=posted_at,
            reminded_at=NOW if reminded else None,
            escalated_at=NOW if escalated else None,
        )
        session.add(message)
        session.flush()
        return message.id


def due(sessions, stage="remind", *, cutoff=NOW - HOUR, queue="fraud", limit=100):
    with sessions.begin() as session:
        return due_messages(
            session=session, queue=queue, stage=stage, posted_before=cutoff, limit=limit
        )


def test_only_posted_unanswered_old_enough_messages_of_the_queue_are_due(sessions):
    wanted = add_message(sessions, "old-posted")
    add_message(sessions, "too-recent", posted_ago=timedelta(minutes=30))
    add_message(sessions, "resolved", state="resolved")
    add_message(sessions, "waiting", state="waiting", posted_ago=None, ts=None)
    add_message(sessions, "sending", state="sending", posted_ago=None, ts=None)
    add_message(sessions, "no-ts", ts=None)
    add_message(sessions, "other-queue", queue="replies")
    add_message(sessions, "reminded", reminded=True)
    add_message(sessions, "escalated", escalated=True)

    [message] = due(sessions)
    assert message.message_id == wanted
    assert (message.queue, message.channel, message.item_id) == ("fraud", "C0REVIEW", "old-posted")
    assert message.ts.startswith("1714996800.") and message.posted_at == NOW - 2 * HOUR


def test_a_reminded_message_can_still_be_escalated_but_not_twice(sessions):
    reminded = add_message(sessions, "reminded", reminded=True)
    add_message(sessions, "escalated", reminded=True, escalated=True)
    assert [m.message_id for m in due(sessions, "escalate")] == [reminded]


def test_a_message_exactly_at_the_cutoff_is_due(sessions):
    add_message(sessions, "edge", posted_ago=HOUR)
    assert [m.item_id for m in due(sessions)] == ["edge"]


def test_oldest_first_and_limited(sessions):
    for hours in (2, 5, 3):
        add_message(sessions, f"h{hours}", posted_ago=hours * HOUR)
    assert [m.item_id for m in due(sessions, limit=2)] == ["h5", "h3"]


@pytest.mark.parametrize("stage", ["remind", "escalate"])
def test_claim_once_then_release_lets_it_be_claimed_again(sessions, stage):
    message_id = add_message(sessions, "m")
    with sessions.begin() as session:
        assert claim(session=session, message_id=message_id, stage=stage, now=NOW)
    with sessions.begin() as session:
        assert not claim(session=session, message_id=message_id, stage=stage, now=NOW)
    assert due(sessions, stage) == []
    with sessions.begin() as session:
        release(session=session, message_id=message_id, stage=stage)
    assert [m.message_id for m in due(sessions, stage)] == [message_id]
    with sessions.begin() as session:
        assert claim(session=session, message_id=message_id, stage=stage, now=NOW)
        stored = session.get_one(ReviewMessage, message_id)
        column = stored.reminded_at if stage == "remind" else stored.escalated_at
        assert column == NOW


def test_an_answered_or_escalated_message_cannot_be_claimed_for_a_reminder(sessions):
    answered = add_message(sessions, "answered", state="resolved")
    escalated = add_message(sessions, "escalated", escalated=True)
    with sessions.begin() as session:
        assert not claim(session=session, message_id=answered, stage="remind", now=NOW)
        assert not claim(session=session, message_id=escalated, stage="remind", now=NOW)
        assert not claim(session=session, message_id=answered, stage="escalate", now=NOW)


def test_unknown_stage_is_refused(sessions):
    message_id = add_message(sessions, "m")
    with sessions.begin() as session, pytest.raises(ValueError, match="unknown reminder stage"):
        claim(session=session, message_id=message_id, stage="nag", now=NOW)  # type: ignore[arg-type]


def _wait_until_blocked(engine, began: threading.Event) -> None:
    """Return once the second caller waits on the first one's lock."""
    assert began.wait(timeout=30)
    if engine.dialect.name != "postgresql":
        # SQLite: the second caller is inside BEGIN IMMEDIATE, which waits in SQLite's busy
        # handler where nothing outside can see it; give it a moment to get there. Either way
        # the outcome asserted below must hold.
        time.sleep(0.2)
        return
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE review_messages%'"
                )
            )
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second claim never waited for the first")


@pytest.mark.parametrize("stage", ["remind", "escalate"])
def test_a_claim_racing_an_uncommitted_one_loses(engine, sessions, stage):
    """Two runs read the message as due; the second claims while the first's claim is not
    committed yet (the worst moment): it waits, then sees the claim and backs off."""
    message_id = add_message(sessions, "raced")
    assert due(sessions, stage) and due(sessions, stage)  # both runs saw it as due
    began = threading.Event()
    results: dict[str, bool] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _mark_begin(conn, cursor, statement, params, context, executemany):
        if threading.current_thread().name == "second":
            began.set()

    def second() -> None:
        with sessions.begin() as session:
            results["second"] = claim(session=session, message_id=message_id, stage=stage, now=NOW)

    try:
        with sessions.begin() as first:
            results["first"] = claim(session=first, message_id=message_id, stage=stage, now=NOW)
            thread = threading.Thread(target=second, name="second")
            thread.start()
            _wait_until_blocked(engine, began)
            assert "second" not in results  # still waiting for the first transaction
        thread.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", _mark_begin)
    assert results == {"first": True, "second": False}
    assert due(sessions, stage) == []


def test_many_simultaneous_claims_one_wins(sessions):
    message_id = add_message(sessions, "crowd")
    barrier = threading.Barrier(6)
    wins: list[bool] = []

    def run() -> None:
        barrier.wait()
        with sessions.begin() as session:
            wins.append(claim(session=session, message_id=message_id, stage="remind", now=NOW))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(wins) == [False] * 5 + [True]
