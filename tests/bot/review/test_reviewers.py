"""Who may answer, checked against the Slack stand-in over HTTP: channel membership for queues
without reviewers (paged, cached, refused when Slack cannot say), listed reviewers otherwise."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.config import QueueConfig
from bot.review.reviewers import MEMBERS_PAGE, ReviewerDirectory
from bot.slack_standin import SlackStandin
from tests.factories import make_config

CHANNEL = "C0REVIEW"


class Clock:
    """A monotonic clock the test moves by hand, so the cache ages without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as running:
        running.add_channel(CHANNEL, "fraud-review", members=["U0ALICE", "U0BOB"])
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def directory(standin: SlackStandin, clock: Clock) -> ReviewerDirectory:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url, timeout=5)
    return ReviewerDirectory(client, clock=clock)


def queue(**fields: object) -> QueueConfig:
    return make_config(fraud=dict(fields)).queue("fraud")


def member_calls(standin: SlackStandin) -> int:
    return len(standin.calls_to("conversations.members"))


def test_without_reviewers_members_of_the_channel_may_answer(
    standin: SlackStandin, directory: ReviewerDirectory
) -> None:
    anyone = queue()
    assert directory.may_answer(anyone, "U0ALICE") is True
    assert directory.may_answer(anyone, "U0STRANGER") is False
    [call] = standin.calls_to("conversations.members")
    assert call.params["channel"] == CHANNEL


def test_a_click_seen_in_the_channel_needs_no_slack_call(
    standin: SlackStandin, directory: ReviewerDirectory
) -> None:
    assert directory.may_answer(queue(), "U0STRANGER", seen_in_channel=True) is True
    assert member_calls(standin) == 0


def test_listed_reviewers_are_checked_and_the_channel_is_not(
    standin: SlackStandin, directory: ReviewerDirectory
) -> None:
    standin.add_usergroup("S0TEAM", ["U0INGROUP"])
    listed = queue(reviewers=["U0LISTED", "S0TEAM"])
    assert directory.may_answer(listed, "U0LISTED") is True
    assert directory.may_answer(listed, "U0INGROUP") is True
    # In the channel, or clicking the channel message, is not enough when reviewers are listed.
    assert directory.may_answer(listed, "U0ALICE") is False
    assert directory.may_answer(listed, "U0ALICE", seen_in_channel=True) is False
    assert member_calls(standin) == 0


def test_members_are_read_over_every_page(
    standin: SlackStandin, directory: ReviewerDirectory
) -> None:
    everyone = [f"U0M{i:04d}" for i in range(2 * MEMBERS_PAGE + 50)]
    standin.add_channel("C0BIG", members=everyone)
    assert directory.channel_members("C0BIG") == frozenset(everyone)
    calls = standin.calls_to("conversations.members")
    assert len(calls) == 3
    assert [c.params.get("cursor") for c in calls][0] is None
    assert all(c.params["cursor"] for c in calls[1:])
    assert all(c.params["limit"] == str(MEMBERS_PAGE) for c in calls)
    assert directory.may_answer(queue(channel="C0BIG"), everyone[-1]) is True
    assert len(standin.calls_to("conversations.members")) == 3  # from the cache


def test_checks_within_the_ttl_cost_one_call_and_a_change_is_seen_after_it(
    standin: SlackStandin, directory: ReviewerDirectory, clock: Clock
) -> None:
    anyone = queue()
    assert directory.may_answer(anyone, "U0ALICE") is True
    assert directory.may_answer(anyone, "U0CAROL") is False
    assert member_calls(standin) == 1
    standin.add_member(CHANNEL, "U0CAROL")
    clock.now += 59
    assert directory.may_answer(anyone, "U0CAROL") is False  # still the remembered list
    clock.now += 2
    assert directory.may_answer(anyone, "U0CAROL") is True
    assert member_calls(standin) == 2


def test_simultaneous_checks_share_one_call(
    standin: SlackStandin, directory: ReviewerDirectory
) -> None:
    standin.fail_next("conversations.members", status=200, delay=0.3)  # slow, then answers
    barrier = threading.Barrier(8)
    seen: list[bool] = []

    def check() -> None:
        barrier.wait()
        seen.append(directory.may_answer(queue(), "U0BOB"))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [True] * 8
    assert member_calls(standin) == 1


@pytest.mark.parametrize(
    ("failure", "logged"),
    [
        ({"status": 200, "error": "missing_scope"}, "missing_scope"),
        ({"status": 200, "error": "channel_not_found"}, "channel_not_found"),
        ({"status": 500}, "conversations.members C0REVIEW"),
    ],
)
def test_when_slack_cannot_say_the_answer_is_refused_and_logged(
    standin: SlackStandin,
    directory: ReviewerDirectory,
    caplog: pytest.LogCaptureFixture,
    failure: dict[str, object],
    logged: str,
) -> None:
    standin.fail_next("conversations.members", **failure)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="bot.review.reviewers"):
        assert directory.may_answer(queue(), "U0ALICE") is False
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "U0ALICE" in record.getMessage() and logged in record.getMessage()
    # A failure is not remembered: the next check asks again and lets the member in.
    assert directory.may_answer(queue(), "U0ALICE") is True
    assert member_calls(standin) == 2


def test_a_channel_slack_does_not_know_refuses_everyone(
    standin: SlackStandin, directory: ReviewerDirectory
) -> None:
    assert directory.may_answer(queue(channel="C0GONE"), "U0ALICE") is False
    [call] = standin.calls_to("conversations.members")
    assert call.response == {"ok": False, "error": "channel_not_found"}


def test_a_user_group_slack_cannot_list_refuses_with_a_warning_then_asks_again(
    standin: SlackStandin, directory: ReviewerDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    standin.add_usergroup("S0TEAM", ["U0INGROUP"])
    team = queue(reviewers=["U0LISTED", "S0TEAM"])
    standin.fail_next("usergroups.users.list", status=200, error="missing_scope")
    with caplog.at_level(logging.WARNING, logger="bot.review.reviewers"):
        assert directory.may_answer(team, "U0INGROUP") is False
    assert "S0TEAM" in caplog.records[-1].getMessage()
    assert directory.may_answer(team, "U0LISTED") is True  # listed directly: no group call
    assert directory.may_answer(team, "U0INGROUP") is True  # the failure was not remembered
    assert len(standin.calls_to("usergroups.users.list")) == 2
