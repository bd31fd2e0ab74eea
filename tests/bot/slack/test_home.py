"""App Home view: a pure builder, checked against Slack's limits as the stand-in enforces them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.slack.home import (
    MAX_HOME_BLOCKS,
    HomeData,
    QueueCard,
    home_view,
    message_link,
)
from bot.slack_standin.limits import view_error
from models.estimates import Estimate
from storage.home_data import AnswerSummary, RecentAnswer, Waiting, WaitingItem
from tests.factories import waiting_item as make_waiting_item

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def waiting_item(n: int, **fields: Any) -> WaitingItem:
    return make_waiting_item(n, now=NOW, **fields)


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
    assert "98.1% (95% CI 96.0–99.1%, n=210)" in shown
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


def test_a_rollback_shows_who_and_flagged_reviewers_only_to_admins():
    from bot.slack.home import FlaggedReviewer, Rollback

    flagged = (FlaggedReviewer("U0BAD", Estimate(0.5, 0.3, 0.7, 20)),)
    rollback = Rollback("fraud-v1", "alice", NOW - timedelta(days=1))
    for is_admin in (True, False):
        shown = texts(
            home_view(home(queues=[card(rollback=rollback, flagged=flagged, is_admin=is_admin)]))
        )
        assert "Rolled back to `fraud-v1` by alice" in shown and "hitl unpin fraud" in shown
        assert ("<@U0BAD>" in shown) == is_admin


def test_audit_cards_waiting_do_not_say_what_the_model_said():
    audit = replace(waiting_item(1), route="audit")
    control = replace(waiting_item(2), route="gold")
    review = waiting_item(3)
    shown = texts(home_view(home([audit, control, review])))
    assert shown.count("model says") == 1 and shown.count("🔍 audit") == 2
    seen = texts(home_view(home([audit], queues=[card(blind=False)])))
    assert "model says" in seen
