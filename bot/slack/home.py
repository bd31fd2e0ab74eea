"""App Home: a pure builder, dataclasses in, a Block Kit view out.

Everything from items or config is escaped here (``bot.mrkdwn``), and the Home view stays under
Slack's 100 blocks whatever it is given: each list is cut to a fixed number of blocks and ends
with "…and N more". Links to review messages are built from the stored channel and ts
(``https://slack.com/archives/C…/p…``, which Slack opens in the workspace) instead of one
``chat.getPermalink`` call per item; `/hitl next` links the same way (``bot.slack.command_texts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.figures_text import estimate_text, estimate_with_basis, whole_percent
from bot.mrkdwn import date, escape_and_truncate, mention
from models.estimates import Estimate
from storage.home_data import AnswerSummary, Waiting, WaitingItem

MAX_HOME_BLOCKS = 100
WAITING_SHOWN = 25  # items listed in App Home; more are counted
QUEUES_SHOWN = 30
RECENT_SHOWN = 5
FLAGGED_SHOWN = 10
ARCHIVES = "https://slack.com/archives"


@dataclass(frozen=True)
class Rollback:
    """The queue is pinned to ``version`` by a rollback (``hitl rollback``) until unpinned."""

    version: str
    by: str
    at: datetime


@dataclass(frozen=True)
class FlaggedReviewer:
    user: str
    accuracy: Estimate  # on control items and outcomes


@dataclass(frozen=True)
class QueueCard:
    queue: str
    channel: str
    model_version: str | None
    waiting: int
    open: int
    failed: int
    accuracy: Estimate  # of automatic decisions, from audits, corrected for reviewer error
    may_answer: bool  # the person looking is one of its reviewers
    accuracy_note: str = ""  # what the accuracy rests on ("corrected for reviewer error …")
    rollback: Rollback | None = None
    #: Reviewers whose answers stop training the model; shown to the queue's admins only.
    flagged: tuple[FlaggedReviewer, ...] = ()
    is_admin: bool = False  # the person looking is one of its admins
    blind: bool = True  # audit cards hide the model's answer (the queue's ``blind_audit``)


@dataclass(frozen=True)
class HomeData:
    user_id: str
    now: datetime
    waiting: Waiting
    answers: AnswerSummary
    answers_days: int
    queues: Sequence[QueueCard]


def message_link(channel: str, ts: str) -> str:
    return f"{ARCHIVES}/{channel}/p{ts.replace('.', '')}"


def home_view(data: HomeData) -> dict[str, Any]:
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Review queues", emoji=True)),
        ContextBlock(elements=[_md(f"For {mention(data.user_id)} · as of {date(data.now)}")]),
    ]
    blocks += _waiting_blocks(data)
    blocks.append(DividerBlock())
    blocks += _answer_blocks(data.answers, data.answers_days)
    blocks.append(DividerBlock())
    blocks += _queue_blocks(data.queues)
    assert len(blocks) <= MAX_HOME_BLOCKS
    return {"type": "home", "blocks": [b.to_dict() for b in blocks]}


def waiting_line(item: WaitingItem, *, blind: bool = False) -> str:
    """One waiting item: a link to its message, the model's guess (not on a blind audit card,
    whose point is that the answer is the reviewer's own), when it was posted. A control item is
    listed as the audit its card looks like."""
    title = escape_and_truncate(f"{item.queue} · {item.item_id}", 200)
    audit = item.route in ("audit", "gold")
    kind = "🔍 audit" if audit else "🤔 needs review"
    line = f"<{message_link(item.channel, item.ts)}|{title}>"
    if not (audit and blind):
        line += (
            f" · model says *{escape_and_truncate(item.predicted, 60)}*"
            f" ({whole_percent(item.confidence)})"
        )
    line += f" · {kind}"
    if item.posted_at is not None:
        line += f" · posted {date(item.posted_at)}"
    if item.votes:
        line += f" · {item.votes} vote{'s' if item.votes > 1 else ''} in"
    return line


def _waiting_blocks(data: HomeData) -> list[Block]:
    if not any(q.may_answer for q in data.queues):
        return [_section("*Waiting for you*\nYou are not a reviewer of any queue.")]
    waiting = data.waiting
    if not waiting.items:
        return [_section("*Waiting for you*\nNothing is waiting for your answer. 🎉")]
    shown = waiting.items[:WAITING_SHOWN]
    blind = {q.queue for q in data.queues if q.blind}
    blocks: list[Block] = [_section(f"*Waiting for you* · {waiting.total}, oldest first")]
    blocks += [_section(waiting_line(item, blind=item.queue in blind)) for item in shown]
    if waiting.total > len(shown):
        more = waiting.total - len(shown)
        blocks.append(
            ContextBlock(elements=[_md(f"…and {more} more · `/hitl next` shows the oldest")])
        )
    return blocks


def _answer_blocks(answers: AnswerSummary, days: int) -> list[Block]:
    head = f"*Your answers in the last {days} days* · {answers.total}"
    if not answers.total:
        return [_section(f"{head}\nNone yet.")]
    counts = " · ".join(
        f"{escape_and_truncate(q, 64)} {n}" for q, n in sorted(answers.per_queue.items())
    )
    lines = [
        f"• {escape_and_truncate(a.queue, 64)} · {escape_and_truncate(a.item_id, 100)} → "
        f"*{escape_and_truncate(a.label, 60)}* {date(a.at)}"
        for a in answers.recent[:RECENT_SHOWN]
    ]
    return [_section(f"{head}: {counts}"), _section("*Latest*\n" + "\n".join(lines))]


def _queue_blocks(queues: Sequence[QueueCard]) -> list[Block]:
    if not queues:
        return [_section("*Queues*\nNo queues configured.")]
    blocks: list[Block] = [_section("*Queues*")]
    blocks += [_section(queue_text(q)) for q in queues[:QUEUES_SHOWN]]
    if len(queues) > QUEUES_SHOWN:
        blocks.append(ContextBlock(elements=[_md(f"…and {len(queues) - QUEUES_SHOWN} more")]))
    return blocks


def queue_text(q: QueueCard) -> str:
    version = f"`{escape_and_truncate(q.model_version, 64)}`" if q.model_version else "none yet"
    failed = f" · {q.failed} failed to post" if q.failed else ""
    you = "" if q.may_answer else " · _you are not one of its reviewers_"
    accuracy = escape_and_truncate(estimate_with_basis(q.accuracy, q.accuracy_note), 400)
    lines = [
        f"*{escape_and_truncate(q.queue, 64)}* in <#{q.channel}> · model {version}{you}",
        f"Backlog {q.waiting + q.open}: {q.open} open in the channel · {q.waiting} waiting to be"
        f" posted{failed}",
        f"Automatic decisions right: {accuracy}",
    ]
    if q.rollback is not None:
        r = q.rollback
        lines.append(
            f"⏪ Rolled back to `{escape_and_truncate(r.version, 64)}` by"
            f" {escape_and_truncate(r.by, 80)} {date(r.at)}: retraining paused until"
            f" `hitl unpin {escape_and_truncate(q.queue, 64)}`"
        )
    if q.is_admin and q.flagged:
        shown = [
            f"{mention(f.user)} {estimate_text(f.accuracy)}" for f in q.flagged[:FLAGGED_SHOWN]
        ]
        more = len(q.flagged) - len(shown)
        lines.append(
            "🚩 Reviewers flagged (their answers no longer train the model): "
            + " · ".join(shown)
            + (f" · …and {more} more" if more else "")
        )
    return "\n".join(lines)


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_md(text))
