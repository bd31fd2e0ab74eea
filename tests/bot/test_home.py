"""App Home view and `/hitl` texts: pure builders, checked against Slack's limits as the
stand-in enforces them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.home import (
    MAX_HOME_BLOCKS,
    Command,
    HomeData,
    QueueCard,
    UsageError,
    accuracy_from_tallies,
    home_view,
    message_link,
    next_intro,
    parse_command,
    stats_text,
    usage_text,
)
from bot.slack_standin.limits import message_error, view_error
from models.estimates import AuditAnswer, Estimate, automatic_accuracy
from storage.home_data import AnswerSummary, AuditTally, RecentAnswer, Waiting, WaitingItem

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
QUEUES = ["fraud", "chatbot"]


def waiting_item(n: int, *, item_id: str | None = None, votes: int = 0) -> WaitingItem:
    return WaitingItem(
        queue="fraud",
        item_pk=n,
        item_id=item_id or f"t-{n}",
        channel="C0REVIEW",
        ts=f"1700000000.{n:06d}",
        posted_at=NOW - timedelta(minutes=n),
        predicted="fraud",
        confidence=0.61,
        route="review",
        votes=votes,
    )


def card(name: str = "fraud", *, accuracy: Estimate | None = None, **fields) -> QueueCard:
    values = {
        "queue": name,
        "channel": "C0REVIEW",
        "model_version": f"{name}-v3",
        "waiting": 12,
        "open": 4,
        "failed": 0,
        "accuracy": accuracy or Estimate.unmeasured(),
        "may_answer": True,
        **fields,
    }
    return QueueCard(**values)


def home(
    items: list[WaitingItem] | None = None,
    *,
    total: int | None = None,
    answers: AnswerSummary | None = None,
    queues: list[QueueCard] | None = None,
) -> HomeData:
    items = items or []
    return HomeData(
        user_id="U0ALICE",
        now=NOW,
        waiting=Waiting(items=items, total=len(items) if total is None else total),
        answers=answers or AnswerSummary(),
        answers_days=7,
        queues=[card()] if queues is None else queues,
    )


def texts(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def test_home_lists_waiting_items_with_links_and_each_queue_with_its_figures():
    accuracy = Estimate(value=0.981, low=0.96, high=0.991, n=210)
    view = home_view(
        home(
            [waiting_item(1, votes=1), waiting_item(2)],
            queues=[card(accuracy=accuracy), card("chatbot", model_version=None)],
        )
    )
    assert view["type"] == "home" and view_error(view, expected_type="home") is None
    shown = texts(view)
    assert message_link("C0REVIEW", "1700000000.000001") in shown
    assert "https://slack.com/archives/C0REVIEW/p1700000000000001" in shown
    assert "fraud · t-1" in shown and "1 vote in" in shown
    assert shown.index("t-1") < shown.index("t-2")  # as given: oldest first
    assert "`fraud-v3`" in shown and "Backlog 16: 4 open" in shown
    assert "98.1% (95% CI 96.0%–99.1%, n=210)" in shown
    assert "*chatbot* in <#C0REVIEW> · model none yet" in shown
    assert "not measured yet" in shown


def test_item_text_is_escaped_everywhere_it_is_shown():
    nasty = "<!channel> & <https://evil|x>"
    answers = AnswerSummary({"fraud": 1}, [RecentAnswer("fraud", nasty, "<@U0BOSS>", NOW)])
    shown = texts(home_view(home([waiting_item(1, item_id=nasty)], answers=answers)))
    assert "<!channel>" not in shown and "<https://evil" not in shown and "<@U0BOSS>" not in shown
    assert "&lt;!channel&gt; &amp; &lt;https://evil|x&gt;" in shown


def test_a_huge_backlog_and_many_queues_stay_within_slack_limits():
    items = [waiting_item(n, item_id="x" * 255) for n in range(1, 301)]
    queues = [card(f"queue-{n}", model_version="v" * 64) for n in range(120)]
    view = home_view(home(items, total=5000, queues=queues))
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS
    assert view_error(view, expected_type="home") is None
    shown = texts(view)
    assert "…and 4975 more" in shown  # 25 listed out of 5000
    assert "…and 90 more" in shown  # 30 queues listed out of 120


@pytest.mark.parametrize(
    ("queues", "expected"),
    [
        ([card(may_answer=False)], "You are not a reviewer of any queue."),
        ([card()], "Nothing is waiting for your answer."),
    ],
)
def test_an_empty_waiting_list_says_why(queues, expected):
    shown = texts(home_view(home([], queues=queues)))
    assert expected in shown


def test_answers_show_counts_per_queue_and_the_latest():
    answers = AnswerSummary(
        {"fraud": 10, "chatbot": 2},
        [RecentAnswer("fraud", f"t-{n}", "legit", NOW - timedelta(hours=n)) for n in range(8)],
    )
    shown = texts(home_view(home(answers=answers)))
    assert "last 7 days* · 12: chatbot 2 · fraud 10" in shown
    assert "t-4 → *legit*" in shown and "t-5" not in shown  # five latest only


def test_no_queues_configured():
    assert "No queues configured." in texts(home_view(home(queues=[])))


def test_accuracy_from_tallies_is_the_audit_estimate():
    tallies = [AuditTally(0.5, True, 30), AuditTally(0.5, False, 2), AuditTally(0.25, False, 1)]
    answers = (
        [AuditAnswer("a", "a", 0.5)] * 30
        + [AuditAnswer("a", "b", 0.5)] * 2
        + [AuditAnswer("a", "b", 0.25)]
    )
    assert accuracy_from_tallies(tallies) == automatic_accuracy(answers)
    assert accuracy_from_tallies([]) == Estimate.unmeasured()
    with pytest.raises(ValueError, match="sampling probability"):
        accuracy_from_tallies([AuditTally(0.0, True, 1)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("help")),
        ("  ", Command("help")),
        ("help", Command("help")),
        ("stats", Command("stats")),
        ("STATS Fraud", Command("stats", "fraud")),
        ("next", Command("next")),
        ("next chatbot", Command("next", "chatbot")),
        ("retrain fraud", Command("retrain", "fraud")),
    ],
)
def test_parse_command(text, expected):
    assert parse_command(text, QUEUES) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frobnicate", "Unknown subcommand `frobnicate`."),
        ("<!channel>", "Unknown subcommand `&lt;!channel&gt;`."),
        ("stats nope", "Unknown queue `nope`."),
        ("next nope", "Unknown queue `nope`."),
        ("retrain", "`retrain` needs the queue to retrain."),
        ("retrain nope", "Unknown queue `nope`."),
        ("stats fraud chatbot", "`stats` takes one queue, not 2."),
    ],
)
def test_bad_commands_say_what_is_wrong(text, problem):
    with pytest.raises(UsageError) as raised:
        parse_command(text, QUEUES)
    assert str(raised.value) == problem


def test_usage_names_every_subcommand_and_the_known_queues():
    text = usage_text(QUEUES, "Unknown queue `nope`.")
    assert text.startswith("Unknown queue `nope`.\n")
    for sub in ("stats", "next", "retrain", "help"):
        assert f"`/hitl {sub}" in text
    assert "Queues: `fraud`, `chatbot`" in text
    assert "none configured" in usage_text([])


def test_stats_text_names_the_queue_and_says_what_is_unmeasured():
    unmeasured = {"value": None, "low": None, "high": None, "n": 0}
    figures = {
        "queue": "fraud",
        "model_version": "fraud-v2",
        "items": 40,
        "routed": {"review": 10, "audit": 2, "auto": 28},
        "answered": 9,
        "waiting": 1,
        "open": 2,
        "automatic_accuracy": unmeasured,
        "positive_precision": {"value": 0.5, "low": 0.1, "high": 0.9, "n": 2},
        "positive_recall": unmeasured,
        "reviewer_agreement": {"fleiss_kappa": 0.8123, "items": 7},
    }
    text = stats_text(figures)
    assert text.startswith("*fraud* · model `fraud-v2`")
    assert "Backlog 3: 2 open in the channel · 1 waiting to be posted" in text
    assert "Automatic decisions right: not measured yet" in text
    assert "precision 50.0% (95% CI 10.0%–90.0%, n=2) · recall not measured yet" in text
    assert "Fleiss' κ 0.81 on 7 items" in text


def test_next_intro_links_to_the_channel_message():
    block = next_intro(waiting_item(3), total=4)
    text = block["elements"][0]["text"]
    assert "<#C0REVIEW>" in text and "1 of 4 waiting for you" in text
    assert "|open>" in text and "p1700000000000003" in text
    assert message_error(text="x", blocks=[block], attachments=None, metadata=None) is None
    single = next_intro(waiting_item(3), total=1)["elements"][0]["text"]
    assert "the only item waiting for you" in single
