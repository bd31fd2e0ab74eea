"""Reminders: the texts as pure functions (who is mentioned; nothing pings a whole channel), and
the job's handling of Slack's failures against the stand-in. The whole flow with a running
`hitl serve` is in tests/scenarios/test_reminders.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from bot.context import AppContext
from bot.mrkdwn import notify
from bot.review.reminders import (
    ReminderCounts,
    escalation_text,
    reminder_text,
    send_reminders,
    waited,
)
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from storage.tables import Item, ReviewMessage, utcnow
from tests.factories import make_config


def test_users_and_user_groups_are_mentioned_the_way_slack_expects():
    text = reminder_text(
        item_id="t-1", reviewers=("U0ALICE", "W0ENT", "S0ANALYSTS"), waited_for=timedelta(hours=4)
    )
    assert "<@U0ALICE>, <@W0ENT>, <!subteam^S0ANALYSTS>" in text
    assert "`t-1`" in text and "4 hours" in text
    assert notify("S0X") == "<!subteam^S0X>" and notify("U0X") == "<@U0X>"


def test_no_reviewers_means_anyone_in_words_never_a_channel_ping():
    text = reminder_text(item_id="t-1", reviewers=(), waited_for=timedelta(minutes=30))
    assert "anyone in this channel" in text
    for ping in ("<!channel>", "<!here>", "<!everyone>", "@channel", "@here"):
        assert ping not in text


def test_the_item_id_is_escaped_and_bounded():
    hostile = "<!channel> & <@U0VIP>" + "x" * 300
    for text in (
        reminder_text(item_id=hostile, reviewers=(), waited_for=timedelta(hours=1)),
        escalation_text(item_id=hostile, leads=("U0LEAD",), waited_for=timedelta(days=1)),
    ):
        assert "&lt;!channel&gt; &amp; &lt;@U0VIP&gt;" in text
        assert "<!channel>" not in text and "<@U0VIP>" not in text
        assert len(text) < 400


def test_the_escalation_mentions_the_leads():
    text = escalation_text(
        item_id="t-9", leads=("U0LEAD", "S0LEADS"), waited_for=timedelta(days=2, hours=3)
    )
    assert "<@U0LEAD>, <!subteam^S0LEADS>" in text and "`t-9`" in text and "2 days" in text


@pytest.mark.parametrize(
    ("duration", "shown"),
    [
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=45, seconds=59), "45 minutes"),
        (timedelta(minutes=119), "119 minutes"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(hours=47, minutes=59), "47 hours"),
        (timedelta(days=1, hours=24), "2 days"),
        (timedelta(days=1) * 9, "9 days"),
        (timedelta(seconds=-5), "0 minutes"),  # a clock slightly behind the database's
    ],
)
def test_waits_read_in_a_sensible_unit(duration, shown):
    assert waited(duration) == shown


# ---------------------------------------------------------------- the job against the stand-in


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        yield server


@pytest.fixture
def ctx(database_url: str, standin: SlackStandin) -> Iterator[AppContext]:
    context = build_context(
        Settings(database_url=database_url),
        config=make_config(fraud={"remind_after": "30m"}),
        token=standin.bot_token,
        api_url=standin.api_url,
    )
    yield context
    context.engine.dispose()


def posted(ctx: AppContext, standin: SlackStandin, n: int) -> tuple[datetime, list[str]]:
    """``n`` messages in the channel and their rows as the deliverer leaves them, posted an
    hour ago or more (the last one first); the time now and the messages' ts."""
    now = utcnow()
    stamps = [standin.add_message("C0REVIEW", f"item t-{i}", user="UBOT") for i in range(n)]
    with ctx.sessions.begin() as session:
        for i, ts in enumerate(stamps):
            item = Item(queue="fraud", external_id=f"t-{i}", payload={"text": "x"}, context={})
            session.add(
                ReviewMessage(
                    item=item,
                    queue="fraud",
                    channel="C0REVIEW",
                    state="posted",
                    priority=0.5,
                    ts=ts,
                    posted_at=now - timedelta(hours=1, minutes=i),  # t-0 is the newest
                )
            )
    return now, stamps


def replies(standin: SlackStandin) -> list[str]:
    """The thread of each reminder Slack accepted, in the order they were sent."""
    return [
        c.params["thread_ts"]
        for c in standin.calls_to("chat.postMessage")
        if c.response.get("ok") and "thread_ts" in c.params
    ]


def test_a_refused_post_is_released_and_sent_by_the_next_run(ctx, standin):
    now, stamps = posted(ctx, standin, 2)
    standin.fail_next("chat.postMessage", status=200, error="msg_too_long")
    first = send_reminders(ctx, now=now)
    assert (first.reminded, first.failed, first.stopped) == (1, 1, None)  # the other went out
    second = send_reminders(ctx, now=now)
    assert (second.reminded, second.failed) == (1, 0)
    assert replies(standin) == [stamps[0], stamps[1]]  # t-1 (older) was refused the first time


@pytest.mark.parametrize("error", ["is_archived", "thread_not_found"])
def test_a_post_that_can_never_succeed_is_given_up_not_retried_every_minute(ctx, standin, error):
    now, _ = posted(ctx, standin, 1)
    standin.fail_next("chat.postMessage", status=200, error=error)
    assert send_reminders(ctx, now=now).failed == 1
    assert send_reminders(ctx, now=now).failed == 0  # not tried again
    assert len(standin.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    ("failure", "stopped"),
    [
        ({"status": 500}, "internal_error"),
        ({"status": 200, "error": "invalid_auth"}, "invalid_auth"),
    ],
    ids=["server-error", "auth"],
)
def test_an_error_every_post_would_meet_ends_the_run(ctx, standin, failure, stopped):
    now, _ = posted(ctx, standin, 3)
    standin.fail_next("chat.postMessage", **failure)
    counts = send_reminders(ctx, now=now)
    assert (counts.reminded, counts.failed, counts.stopped) == (0, 1, stopped)
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert send_reminders(ctx, now=now).reminded == 3


def test_one_run_sends_at_most_its_limit_oldest_first(ctx, standin):
    now, stamps = posted(ctx, standin, 3)
    assert send_reminders(ctx, now=now, limit=2).reminded == 2
    assert replies(standin) == [stamps[2], stamps[1]]
    assert send_reminders(ctx, now=now, limit=2).reminded == 1


def test_a_queue_without_reminders_is_left_alone(database_url, standin):
    context = build_context(
        Settings(database_url=database_url),
        config=make_config(fraud={}),
        token=standin.bot_token,
        api_url=standin.api_url,
    )
    try:
        now, _ = posted(context, standin, 1)
        assert send_reminders(context, now=now + timedelta(days=30)) == ReminderCounts()
        assert standin.calls_to("chat.postMessage") == []
    finally:
        context.engine.dispose()
