"""The weekly digest as Slack blocks and plain text: figures beside last week's, honest wording
for empty weeks and unmeasured figures, escaping, and Slack's limits for any input."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.digest.blocks import digest_message
from bot.digest.figures import WEEK, DigestFigures, PeriodFigures, VersionChange
from bot.digest.plain_text import digest_plain_text
from bot.digest.sections import MAX_REVIEWERS
from models.estimates import Estimate
from models.reviewer_quality import ReviewerAccuracy

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
EVIL = "<!channel> <@U0EVIL> <https://evil|click> &"
MENTION = re.compile(r"<@U[A-Z0-9]+>")
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")

Blocks = list[dict[str, Any]]


def period(weeks_ago: int, **changes: Any) -> PeriodFigures:
    start = NOW - (weeks_ago + 1) * WEEK
    figures = PeriodFigures(
        start=start,
        end=start + WEEK,
        items=1204,
        routed={"review": 180, "audit": 24, "auto": 1000},
        answered=201,
        answer_seconds_median=240.0,
        answer_seconds_p90=9000.0,
        automatic_accuracy=Estimate(value=0.989, low=0.971, high=0.996, n=52),
        confirmed=Estimate(value=0.72, low=0.601, high=0.815, n=50),
        agreement=0.82,
        agreement_items=41,
        answers_by_reviewer={"U0ALICE": 120, "U0BOB": 81},
    )
    return replace(figures, **changes)


QUIET = {
    "items": 0,
    "routed": {"review": 0, "audit": 0, "auto": 0},
    "answered": 0,
    "answer_seconds_median": None,
    "answer_seconds_p90": None,
    "automatic_accuracy": Estimate.unmeasured(),
    "confirmed": Estimate.unmeasured(),
    "agreement": None,
    "agreement_items": 0,
    "answers_by_reviewer": {},
}

PREVIOUS = period(
    1,
    items=1090,
    routed={"review": 150, "audit": 20, "auto": 920},
    answered=170,
    answer_seconds_median=400.0,
    answer_seconds_p90=3 * 86400.0,
    automatic_accuracy=Estimate(value=0.97, low=0.93, high=0.988, n=48),
    confirmed=Estimate(value=0.65, low=0.5, high=0.78, n=40),
    agreement=0.55,
    agreement_items=30,
    answers_by_reviewer={"U0ALICE": 90},
)


def make_figures(**changes: Any) -> DigestFigures:
    figures = DigestFigures(
        queue="fraud",
        now=NOW,
        model_version="fraud-v4",
        new_queue=False,
        votes_required=3,
        this_week=period(0),
        last_week=PREVIOUS,
        backlog=12,
        oldest_waiting=NOW - timedelta(days=3),
        history=[],
    )
    return replace(figures, **changes)


def texts(blocks: Blocks) -> list[str]:
    """Every text Slack would show, from headers, sections, fields and context elements."""
    found: list[str] = []
    for block in blocks:
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if obj:
                found.append(obj["text"])
    return found


def shown(figures: DigestFigures) -> str:
    text, blocks = digest_message(figures)
    return "\n".join([text, *texts(blocks)])


def assert_within_slack_limits(text: str, blocks: Blocks) -> None:
    assert 0 < len(text) <= 4000
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(field["text"]) <= 2000 for field in block.get("fields", []))
    # The undocumented cumulative limit behind msg_blocks_too_long (see bot/review/blocks.py).
    assert sum(len(t) for t in texts(blocks)) <= 10_000


def test_names_the_queue_and_period_and_shows_the_figures() -> None:
    text, blocks = digest_message(make_figures(), {"U0ALICE": "Alice Martin"})
    assert text == "Weekly digest of fraud, 20–27 Nov 2026"
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Weekly digest · fraud", "emoji": False},
    }
    body = "\n".join(texts(blocks))
    for expected in [
        "13–20 Nov 2026",  # the period compared with
        "model fraud-v4",
        "*Items scored*\n1,204 (prev. 1,090)",
        "*Sent to review*\n180 (prev. 150)",
        "*Audit sample*\n24 (prev. 20)",
        "*Decided automatically*\n1,000 (prev. 920)",
        "*Answered*\n201 (prev. 170)",
        "*Median time to answer*\n4 min (prev. 7 min)",
        "*90% answered within*\n2.5 h (prev. 3 d)",
        "*Backlog now*\n12 waiting",
        "*Oldest waiting*\n3 d",
        "98.9% (95% CI 97.1–99.6%, n=52)\n_prev. 97.0% (95% CI 93.0–98.8%, n=48)_",
        "72.0% (95% CI 60.1–81.5%, n=50)\n_prev. 65.0% (95% CI 50.0–78.0%, n=40)_",
        "0.82 Fleiss' kappa, almost perfect (41 items)\n_prev. 0.55 Fleiss' kappa, moderate",
        # named (U0BOB has no name: the id), never mentioned: a weekly digest pings nobody
        "*Alice Martin*: 120 (prev. 90)\n*U0BOB*: 81 (prev. 0)",
    ]:
        assert expected in body
    assert not MENTION.search(body)
    assert "Model versions" not in body  # no version decided this week


def test_plain_text_shows_the_same_figures_without_mrkdwn() -> None:
    plain = digest_plain_text(make_figures())
    assert plain.startswith("Weekly digest of fraud, 20–27 Nov 2026\n")
    for expected in [
        "Items scored:          1,204 (prev. 1,090)",
        "90% answered within:   2.5 h (prev. 3 d)",
        "Accuracy of automatic decisions: 98.9% (95% CI 97.1–99.6%, n=52)",
        "prev. 97.0% (95% CI 93.0–98.8%, n=48)",
        "U0ALICE: 120 (prev. 90)",
    ]:
        assert expected in plain
    assert not re.search(r"[*_<>]|&amp;", plain)


def test_versions_show_metric_before_and_after_and_why_a_candidate_was_kept_out() -> None:
    versions = [
        VersionChange(
            "fraud-v6",
            "rejected",
            NOW - timedelta(days=1),
            "average_precision",
            0.887,
            0.85,
            "worse on the trusted hold-out",
        ),
        VersionChange(
            "fraud-v5", "promoted", NOW - timedelta(days=2), "average_precision", 0.879, 0.887, None
        ),
    ]
    figures = make_figures(this_week=period(0, versions=versions))
    assert (  # newest first
        "*Model versions*\n*Rejected fraud-v6*: average_precision 0.887 → 0.850, 26 Nov;"
        " reason: worse on the trusted hold-out\n"
        "*Promoted fraud-v5*: average_precision 0.879 → 0.887, 25 Nov"
    ) in shown(figures)
    assert "Promoted fraud-v5: average_precision 0.879 → 0.887" in digest_plain_text(figures)


def test_empty_week_says_so_instead_of_showing_zeros() -> None:
    figures = make_figures(this_week=period(0, **QUIET), backlog=0, oldest_waiting=None)
    for output in (shown(figures), digest_plain_text(figures)):
        assert "No items came in and nobody answered this week." in output
        assert "The 7 days before: 1,090 items scored, 170 answered." in output
        assert "%" not in output and "prev." not in output and "Backlog" not in output


def test_empty_week_with_a_backlog_and_a_model_change_shows_both() -> None:
    change = VersionChange("fraud-v5", "promoted", NOW - timedelta(days=2), "auc", 0.9, 0.91, None)
    figures = make_figures(this_week=period(0, **QUIET, versions=[change]))
    output = shown(figures)
    assert "No items came in and nobody answered this week." in output
    assert "*Backlog now*\n12 waiting" in output and "*Oldest waiting*\n3 d" in output
    assert "*Promoted fraud-v5*: auc 0.900 → 0.910" in output
    assert "Items scored" not in output


def test_brand_new_queue_has_no_data_yet() -> None:
    figures = make_figures(
        new_queue=True,
        model_version=None,
        this_week=period(0, **QUIET),
        last_week=period(1, **QUIET),
        backlog=0,
        oldest_waiting=None,
    )
    for output in (shown(figures), digest_plain_text(figures)):
        assert "fraud has no data yet: no item has been scored." in output
        assert "no model yet" in output
        assert "%" not in output and "No items came in" not in output


def test_unmeasured_estimates_say_so_and_never_read_as_zero_percent() -> None:
    unmeasured = Estimate.unmeasured()
    figures = make_figures(
        this_week=period(0, automatic_accuracy=unmeasured, confirmed=unmeasured),
        last_week=replace(PREVIOUS, automatic_accuracy=unmeasured, confirmed=unmeasured),
    )
    output = shown(figures)
    assert (
        "*Accuracy of automatic decisions*\nnot measured (no audit answers this week)\n"
        "_prev. not measured_"
    ) in output
    assert "not measured (no alerts answered this week)" in output
    assert "0.0%" not in output and "0.0%" not in digest_plain_text(figures)


def test_single_vote_queue_says_so_instead_of_an_agreement_figure() -> None:
    single: dict[str, Any] = {"agreement": None, "agreement_items": 0}
    figures = make_figures(
        votes_required=1, this_week=period(0, **single), last_week=replace(PREVIOUS, **single)
    )
    assert "*Reviewer agreement*\nsingle vote per item\n_prev. single vote per item_" in shown(
        figures
    )


def test_a_multi_vote_queue_without_complete_items_says_not_measured() -> None:
    none: dict[str, Any] = {"agreement": None, "agreement_items": 0}
    output = shown(make_figures(votes_required=2, this_week=period(0, **none)))
    assert "not measured (no item got all its votes)" in output
    assert "single vote" not in output


def test_reviewers_are_capped_most_answers_first() -> None:
    reviewers = {f"U{n:04d}": n for n in range(1, 201)}
    output = shown(make_figures(this_week=period(0, answers_by_reviewer=reviewers)))
    assert "*U0200*: 200 (prev. 0)" in output
    assert f"*U{201 - MAX_REVIEWERS:04d}*" in output
    assert f"*U{200 - MAX_REVIEWERS:04d}*" not in output
    assert f"_…and {200 - MAX_REVIEWERS} more_" in output


def test_hostile_text_is_escaped_everywhere() -> None:
    change = VersionChange(EVIL, "rejected", NOW - timedelta(days=1), EVIL, 0.9, 0.8, EVIL)
    figures = make_figures(
        queue=EVIL,
        model_version=EVIL,
        this_week=period(0, versions=[change], answers_by_reviewer={EVIL: 3, "U0ALICE": 2}),
    )
    text, blocks = digest_message(figures, {"U0ALICE": "<@U0EVIL> Alice"})
    for shown_text in [text, *texts(blocks)]:
        assert "<" not in shown_text and ">" not in shown_text, shown_text
        assert not BARE_AMPERSAND.search(shown_text), shown_text
    assert "&lt;!channel&gt;" in "".join(texts(blocks))
    assert "&lt;@U0EVIL&gt; Alice" in "".join(texts(blocks))  # a name is text, escaped
    assert MENTION.findall(json.dumps(blocks)) == []


def test_newlines_and_control_characters_in_a_reason_stay_on_one_line() -> None:
    reason = "worse\non recent labels\x1b[2J\tsee log"
    change = VersionChange("v9", "rejected", NOW, "auc", 0.9, 0.8, reason)
    plain = digest_plain_text(make_figures(this_week=period(0, versions=[change])))
    assert "reason: worse on recent labels [2J see log\n" in plain
    assert "\x1b" not in plain


def test_worst_case_stays_within_slack_limits() -> None:
    long = "<&>" * 2000
    versions = [
        VersionChange(f"{long}-{n}", "rejected", NOW - timedelta(hours=n), long, 0.5, 0.4, long)
        for n in range(30)
    ]
    reviewers = {f"U{n:010d}": 1000 - n for n in range(200)}
    figures = make_figures(
        queue="q" * 300,
        model_version=long,
        this_week=period(0, versions=versions, answers_by_reviewer=reviewers),
    )
    text, blocks = digest_message(figures)
    assert_within_slack_limits(text, blocks)
    body = "\n".join(texts(blocks))
    assert "_…and 190 more_" in body
    assert re.search(r"_…and \d+ more_$", texts(blocks)[-1])  # versions are counted, not lost


def test_bad_figures_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="'audit'"):
        digest_message(make_figures(this_week=period(0, routed={"review": 1, "auto": 2})))
    change = VersionChange("v2", "archived", NOW, None, None, None, None)
    with pytest.raises(ValueError, match="promoted, rejected or rolled_back"):
        digest_message(make_figures(this_week=period(0, versions=[change])))


def test_a_rollback_says_to_what_by_whom_and_that_it_holds() -> None:
    rollback = VersionChange(
        "fraud-v1", "rolled_back", NOW - timedelta(days=1), None, None, None, None, "alice", True
    )
    promoted = VersionChange(
        "fraud-v4", "promoted", NOW - timedelta(days=2), "average_precision", 0.88, 0.89, None
    )
    figures = make_figures(this_week=period(0, versions=[promoted, rollback]))
    for output in (shown(figures), digest_plain_text(figures)):
        assert "Rolled back to fraud-v1" in output and "by alice, 26 Nov" in output
        assert "retraining paused until `hitl unpin fraud`" in output
        assert "Promoted fraud-v1" not in output and "first model" not in output
        assert output.index("Rolled back") < output.index("Promoted fraud-v4")  # newest first


def test_a_first_model_shows_its_own_score_not_a_comparison() -> None:
    first = VersionChange(
        version="fraud-v1",
        outcome="promoted",
        at=NOW - timedelta(days=1),
        metric="average_precision",
        before=None,
        after=0.879,
        reason=None,
    )
    output = shown(make_figures(this_week=period(0, versions=[first])))
    assert "average_precision 0.879 (first model)" in output
    assert "→" not in output.split("fraud-v1", 1)[1].split("\n", 1)[0]


def test_the_accuracy_says_it_is_corrected_and_on_what_beside_the_raw_agreement() -> None:
    this = period(
        0,
        automatic_accuracy=Estimate(value=0.989, low=0.971, high=0.996, n=52),
        automatic_agreement=Estimate(value=0.942, low=0.843, high=0.980, n=52),
        accuracy_note="corrected for reviewer error measured on 48 control answers",
    )
    figures = make_figures(this_week=this)
    for output in (shown(figures), digest_plain_text(figures)):
        assert (
            "98.9% (95% CI 97.1–99.6%, n=52, corrected for reviewer error measured on 48"
            " control answers)"
        ) in output
        assert "Raw agreement on audits" in output and "94.2% (95% CI 84.3–98.0%, n=52)" in output


def test_flagged_reviewers_are_named_to_the_leads_with_what_the_flag_rests_on() -> None:
    def accuracy(value: float, low: float, high: float, n: int, control: int, flagged: bool):
        return ReviewerAccuracy(Estimate(value, low, high, n), control, n - control, flagged)

    measured = {
        "U0BOB": accuracy(0.5, 0.35, 0.65, 40, 34, True),
        "U0ALICE": accuracy(0.96, 0.86, 0.99, 45, 45, False),
    }
    figures = make_figures(reviewer_accuracy=measured)
    slack = shown(figures)
    # named, not mentioned: the weekly digest pings nobody
    assert "*Reviewers flagged*\n*U0BOB*: 50.0% (95% CI 35.0–65.0%, n=40: 34 control answers" in (
        slack
    )
    assert "<@" not in slack
    assert "6 outcomes); right too rarely, so their answers no longer train the model" in slack
    assert "U0ALICE*: 96" not in slack
    calm = shown(make_figures(reviewer_accuracy={"U0ALICE": measured["U0ALICE"]}))
    assert "No reviewer is flagged: 1 measured on 45 answers of known truth" in calm
    assert "Reviewers flagged" not in shown(make_figures())  # nobody measured: nothing to say
