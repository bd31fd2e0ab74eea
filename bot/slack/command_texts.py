"""The `/hitl` slash command's words: parsing its text, and what it answers, as pure functions.

Kept apart from the listener (``bot.slack.listeners.commands``) so every answer can be checked
without Slack; kept apart from App Home (``bot.slack.home``) because the two surfaces change for
different reasons. Anything from items or config is escaped here (``bot.mrkdwn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from bot.figures_text import estimate_text, estimate_with_basis
from bot.masking import mask_patterns
from bot.mrkdwn import date, escape_and_truncate, mention
from bot.slack.home import message_link
from models.estimates import Estimate
from storage.home_data import WaitingItem

SUBCOMMANDS = ("stats", "next", "retrain", "help")


@dataclass(frozen=True)
class Command:
    sub: str  # one of SUBCOMMANDS
    queue: str | None = None


class UsageError(ValueError):
    """What was wrong with the `/hitl` text; shown above the usage."""


def parse_command(text: str, queues: Sequence[str]) -> Command:
    """The subcommand and its queue, case-insensitive; a ``UsageError`` that names the problem
    for anything else, so the answer can say what to fix."""
    words = text.split()
    if not words:
        return Command("help")
    sub, args = words[0].lower(), [w.lower() for w in words[1:]]
    if sub not in SUBCOMMANDS:
        raise UsageError(f"Unknown subcommand `{escape_and_truncate(words[0], 40)}`.")
    if sub == "help":
        return Command("help")
    if len(args) > 1:
        raise UsageError(f"`{sub}` takes one queue, not {len(args)}.")
    if sub == "retrain" and not args:
        raise UsageError("`retrain` needs the queue to retrain.")
    if args and args[0] not in queues:
        raise UsageError(f"Unknown queue `{escape_and_truncate(words[1], 64)}`.")
    return Command(sub, args[0] if args else None)


def usage_text(queues: Sequence[str], problem: str | None = None) -> str:
    """Every subcommand and the queues it takes, below what was wrong (if anything was)."""
    names = ", ".join(f"`{escape_and_truncate(q, 64)}`" for q in queues) or "none configured"
    lines = [problem] if problem else []
    lines += [
        "*Usage:* `/hitl <subcommand>`",
        "• `/hitl stats [queue]` — a queue's figures (every queue without a name)",
        "• `/hitl next [queue]` — the oldest item waiting for your answer, shown only to you",
        "• `/hitl retrain <queue>` — retrain now (the queue's admins only)",
        "• `/hitl help` — this text",
        f"Queues: {names}",
    ]
    return "\n".join(lines)


def stats_text(figures: dict[str, Any]) -> str:
    """`/hitl stats` for one queue, from ``bot.digest.stats.queue_stats``."""
    version = figures.get("model_version")
    routed = figures["routed"]
    lines = [
        f"*{escape_and_truncate(figures['queue'], 64)}* · model "
        + (f"`{escape_and_truncate(version, 64)}`" if version else "none yet"),
        f"{figures['items']} items scored (review {routed['review']} · audit {routed['audit']}"
        f" · auto {routed['auto']}) · {figures['answered']} answered",
        f"Backlog {figures['open'] + figures['waiting']}: {figures['open']} open in the channel"
        f" · {figures['waiting']} waiting to be posted",
        f"Automatic decisions right: {_accuracy(figures)}",
        f"Reviewers agreed with the model on audits: {_estimate(figures['automatic_agreement'])}",
    ]
    if "positive_precision" in figures:
        lines.append(
            f"Positive label: precision {_estimate(figures['positive_precision'])}"
            f" · recall {_estimate(figures['positive_recall'])}"
        )
    for name, values in (figures.get("segments") or {}).items():
        for value, e in values.items():
            if e["flagged"]:
                # masked whatever the queue's mask_patterns: a segment value is item text
                shown = escape_and_truncate(f"{name} = {mask_patterns(value)}", 120)
                accuracy = _estimate({k: e[k] for k in ("value", "low", "high", "n")})
                lines.append(f"⚠️ Segment {shown}: automatic decisions right {accuracy}")
    flagged = figures.get("flagged_reviewers") or []
    if flagged:
        accuracy = figures["reviewer_accuracy"]
        named = " · ".join(
            f"{mention(user)} {_estimate(_plain(accuracy[user]))}" for user in flagged[:10]
        )
        more = f" · …and {len(flagged) - 10} more" if len(flagged) > 10 else ""
        lines.append(f"Reviewers flagged (their answers no longer train): {named}{more}")
    agreement = figures.get("reviewer_agreement")
    if agreement and agreement.get("fleiss_kappa") is not None:
        lines.append(
            f"Reviewer agreement: Fleiss' κ {agreement['fleiss_kappa']:.2f}"
            f" on {agreement['items']} items"
        )
    return "\n".join(lines)


def next_intro(item: WaitingItem, total: int) -> dict[str, Any]:
    """The line above the card `/hitl next` shows: where the item is, how many are left."""
    posted = f" since {date(item.posted_at)}" if item.posted_at is not None else ""
    left = f"1 of {total} waiting for you" if total > 1 else "the only item waiting for you"
    text = (
        f"Waiting in <#{item.channel}>{posted} (<{message_link(item.channel, item.ts)}|open>)"
        f" · {left}. Your answer here counts as one in the channel."
    )
    return ContextBlock(elements=[MarkdownTextObject(text=text, verbatim=True)]).to_dict()


def _estimate(estimate: dict[str, Any]) -> str:
    # ``queue_stats`` holds estimates as dicts (the API serves the same figures as JSON).
    return estimate_text(Estimate(**estimate))


def _plain(estimate: dict[str, Any]) -> dict[str, Any]:
    """An estimate dict without the extra keys a reviewer's accuracy carries."""
    return {key: estimate[key] for key in ("value", "low", "high", "n")}


def _accuracy(figures: dict[str, Any]) -> str:
    """The corrected accuracy, with what it rests on (``queue_stats``' ``accuracy_basis``)."""
    basis = (figures.get("accuracy_basis") or {}).get("note", "")
    return escape_and_truncate(
        estimate_with_basis(Estimate(**figures["automatic_accuracy"]), basis), 400
    )
