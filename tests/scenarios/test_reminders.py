"""Reminders end to end: items posted by a running `hitl serve`, one answered by a signed click,
then the real reminder job (as `hitl clock` runs it) replying in threads on the Slack stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.context import AppContext
from bot.review.reminders import send_reminders
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack_standin.server import RecordedCall, SlackStandin
from storage.tables import ReviewMessage, utcnow
from tests.factories import items_for, make_config
from tests.scenarios.conftest import CHANNEL
from tests.scenarios.harness import vote_button, wait_until

QUEUES: dict[str, dict[str, Any]] = {
    "fraud": {
        "review_below": 1.0,  # every item goes to people
        "reviewers": ["U0ALICE", "S0ANALYSTS"],
        "leads": ["U0LEAD"],
        "remind_after": "30m",
        "escalate_after": "4h",
    },
    # no reviewers (anyone may answer), no escalation, a channel of its own
    "open": {"review_below": 1.0, "channel": "C0OPEN", "remind_after": "30m"},
}


@pytest.fixture
def job_context(database_url: str, standin: SlackStandin) -> Iterator[Any]:
    """An ``AppContext`` like `hitl clock` builds, against the stand-in, for these queues."""
    made: list[AppContext] = []

    def build(**queues: dict[str, Any]) -> AppContext:
        ctx = build_context(
            Settings(database_url=database_url),
            config=make_config(**queues),
            token=standin.bot_token,
            api_url=standin.api_url,
        )
        made.append(ctx)
        return ctx

    yield build
    for ctx in made:
        ctx.engine.dispose()


def post_and_wait(
    serve, standin: SlackStandin, sessions, batches: dict[str, int]
) -> dict[str, list[str]]:
    """Post items to each queue through the API; channel → ts of its review messages, once
    the deliverer has recorded all of them (Slack answers before the row is updated)."""
    for queue, n in batches.items():
        assert serve.post_items(queue, items_for(n, prefix=queue)).status_code == 200
    posts = standin.wait_for_calls("chat.postMessage", sum(batches.values()))

    def recorded() -> bool:
        with sessions.begin() as session:
            return session.scalars(select(ReviewMessage.ts)).all().count(None) == 0

    wait_until(recorded, what="posted messages recorded")
    by_channel: dict[str, list[str]] = {}
    for call in posts:
        by_channel.setdefault(call.params["channel"], []).append(call.response["ts"])
    return by_channel


def posted_an_hour_ago(sessions) -> datetime:
    """Move every message's ``posted_at`` an hour back, as if they had waited that long."""
    with sessions.begin() as session:
        for message in session.scalars(select(ReviewMessage)):
            assert message.posted_at is not None
            message.posted_at -= timedelta(hours=1)
    return utcnow()


def thread_replies(standin: SlackStandin) -> list[RecordedCall]:
    return [c for c in standin.calls_to("chat.postMessage") if "thread_ts" in c.params]


def reminded_at(sessions) -> list[datetime | None]:
    with sessions.begin() as session:
        return list(session.scalars(select(ReviewMessage.reminded_at)))


def test_one_reminder_then_one_escalation_in_each_thread_and_a_429_waits(
    start_serve, standin, sessions, job_context
):
    standin.add_usergroup("S0ANALYSTS", ["U0INGROUP"])
    serve = start_serve(**QUEUES)
    posted = post_and_wait(serve, standin, sessions, {"fraud": 3, "open": 1})
    (answered, *waiting), [open_ts] = posted[CHANNEL], posted["C0OPEN"]
    message = standin.message(CHANNEL, answered)
    serve.click(user="U0ALICE", channel=CHANNEL, message=message, predicate=vote_button(0))
    standin.wait_for_calls("chat.update", 1)  # the answer is stored before the update
    now = posted_an_hour_ago(sessions)
    ctx = job_context(**QUEUES)

    # Rate-limited: the run stops at the first reply, and nothing is marked as reminded.
    standin.fail_next("chat.postMessage", status=429, retry_after=30)
    limited = send_reminders(ctx, now=now)
    assert (limited.reminded, limited.failed, limited.stopped) == (0, 1, "ratelimited")
    assert [c.response["status"] for c in thread_replies(standin)] == [429]
    assert reminded_at(sessions) == [None] * 4

    # The next run reminds each unanswered message once, in its thread and channel.
    counts = send_reminders(ctx, now=now)
    assert (counts.reminded, counts.escalated, counts.failed) == (3, 0, 0)
    replies = thread_replies(standin)[1:]
    assert all(r.response["ok"] for r in replies)
    by_thread = {r.params["thread_ts"]: r.params for r in replies}
    assert sorted(by_thread) == sorted([*waiting, open_ts])
    for ts in waiting:
        assert by_thread[ts]["channel"] == CHANNEL
        text = by_thread[ts]["text"]
        assert "<@U0ALICE>" in text and "<!subteam^S0ANALYSTS>" in text
        assert "<@U0LEAD>" not in text
    assert by_thread[open_ts]["channel"] == "C0OPEN"
    open_text = by_thread[open_ts]["text"]
    assert "anyone in this channel" in open_text
    assert not any(p in open_text for p in ("<!channel>", "<!here>", "<!everyone>", "<@"))
    # Slack shows them as replies in those threads, not as new messages in the channel.
    shown = standin.messages(CHANNEL)
    assert sorted(m["thread_ts"] for m in shown if m.get("thread_ts", m["ts"]) != m["ts"]) == (
        sorted(waiting)
    )

    assert send_reminders(ctx, now=now).reminded == 0  # the next runs: nothing more
    assert send_reminders(ctx, now=now + timedelta(hours=1)).reminded == 0
    assert len(thread_replies(standin)) == 4

    # Past escalate_after, the leads hear of the fraud items once; the open queue has none.
    later = now + timedelta(hours=3, minutes=1)  # 4 h 1 min after posting
    assert send_reminders(ctx, now=later).escalated == 2
    escalations = thread_replies(standin)[4:]
    assert sorted(e.params["thread_ts"] for e in escalations) == sorted(waiting)
    for escalation in escalations:
        assert escalation.params["channel"] == CHANNEL
        assert "<@U0LEAD>" in escalation.params["text"]
        assert "<@U0ALICE>" not in escalation.params["text"]
    again = send_reminders(ctx, now=later + timedelta(days=1))
    assert (again.reminded, again.escalated) == (0, 0)
    assert len(thread_replies(standin)) == 6
    assert answered not in {r.params["thread_ts"] for r in thread_replies(standin)}
