"""The `/hitl` texts: parsing, usage, stats and the line above `/hitl next`'s card; pure
functions, the block checked against Slack's limits as the stand-in enforces them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.slack.command_texts import (
    Command,
    UsageError,
    next_intro,
    parse_command,
    stats_text,
    usage_text,
)
from bot.slack_standin.limits import message_error
from tests.factories import waiting_item

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
QUEUES = ["fraud", "chatbot"]


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
        "automatic_agreement": unmeasured,
        "accuracy_basis": {"note": "no audit answers"},
        "positive_precision": {"value": 0.5, "low": 0.1, "high": 0.9, "n": 2},
        "positive_recall": unmeasured,
        "reviewer_agreement": {"fleiss_kappa": 0.8123, "items": 7},
    }
    text = stats_text(figures)
    assert text.startswith("*fraud* · model `fraud-v2`")
    assert "Backlog 3: 2 open in the channel · 1 waiting to be posted" in text
    assert "Automatic decisions right: not measured yet\n" in text
    assert "precision 50.0% (95% CI 10.0–90.0%, n=2) · recall not measured yet" in text
    assert "Fleiss' κ 0.81 on 7 items" in text


def test_stats_text_says_the_accuracy_is_corrected_and_names_flagged_reviewers():
    figures = {
        "queue": "fraud",
        "model_version": "fraud-v2",
        "items": 40,
        "routed": {"review": 10, "audit": 2, "auto": 28},
        "answered": 9,
        "waiting": 0,
        "open": 0,
        "automatic_accuracy": {"value": 0.989, "low": 0.971, "high": 0.996, "n": 52},
        "automatic_agreement": {"value": 0.94, "low": 0.84, "high": 0.98, "n": 52},
        "accuracy_basis": {"note": "corrected for reviewer error measured on 48 control answers"},
        "reviewer_accuracy": {
            "U0BAD": {"value": 0.5, "low": 0.3, "high": 0.7, "n": 20, "flagged": True},
        },
        "flagged_reviewers": ["U0BAD"],
        "reviewer_agreement": None,
    }
    text = stats_text(figures)
    assert (
        "Automatic decisions right: 98.9% (95% CI 97.1–99.6%, n=52, corrected for reviewer"
        " error measured on 48 control answers)"
    ) in text
    assert "Reviewers agreed with the model on audits: 94.0% (95% CI 84.0–98.0%, n=52)" in text
    assert "Reviewers flagged (their answers no longer train): <@U0BAD> 50.0%" in text


def test_next_intro_links_to_the_channel_message():
    block = next_intro(waiting_item(3, now=NOW), total=4)
    text = block["elements"][0]["text"]
    assert "<#C0REVIEW>" in text and "1 of 4 waiting for you" in text
    assert "|open>" in text and "p1700000000000003" in text
    assert message_error(text="x", blocks=[block], attachments=None, metadata=None) is None
    single = next_intro(waiting_item(3, now=NOW), total=1)["elements"][0]["text"]
    assert "the only item waiting for you" in single
