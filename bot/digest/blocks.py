"""The weekly digest as Block Kit: the rows of ``bot.digest.sections`` laid out for Slack.

Phones first: short ``section`` fields two to a row for counts, one figure per line for
estimates (an interval does not fit half a screen), no tables. Everything that comes from
config or the registry (queue name, versions, reasons, user ids) is escaped when it becomes
mrkdwn, and the message keeps to Slack's limits for any input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import mrkdwn
from bot.digest.figures import DigestFigures
from bot.digest.sections import (
    QUEUE_CHARS,
    DigestSection,
    Row,
    clean,
    digest_sections,
    headline,
    previous_text,
    subtitle,
)
from bot.mrkdwn import escape_and_truncate

_HEADER, _FALLBACK, _SECTION_BUDGET = 150, 300, 2900


def digest_message(
    figures: DigestFigures, names: Mapping[str, str] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The digest message for Slack: (fallback text for notifications, blocks). People are
    named (``names``: user id → name), never mentioned: a weekly message pings nobody."""
    title = escape_and_truncate(f"Weekly digest · {clean(figures.queue, QUEUE_CHARS)}", _HEADER)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=title, emoji=False)),
        ContextBlock(elements=[_mrkdwn(mrkdwn.escape(subtitle(figures)))]),
    ]
    blocks += [_section_block(section) for section in digest_sections(figures, names)]
    return escape_and_truncate(headline(figures), _FALLBACK), [b.to_dict() for b in blocks]


def _section_block(section: DigestSection) -> SectionBlock:
    head = f"*{mrkdwn.escape(section.title)}*" if section.title else ""
    if section.note:
        note = mrkdwn.escape(section.note)
        return SectionBlock(text=_mrkdwn(f"{head}\n{note}" if head else note))
    if section.layout == "fields":
        fields = [_mrkdwn(_field_text(row)) for row in section.rows[:10]]
        return SectionBlock(text=_mrkdwn(head) if head else None, fields=fields)
    lines, used = [head], mrkdwn.length(head)
    for shown, row in enumerate(section.rows):
        line = _stacked_text(row) if section.layout == "stacked" else _inline_text(row)
        if used + mrkdwn.length(line) + 1 > _SECTION_BUDGET:
            lines.append(f"_…and {len(section.rows) - shown + section.more:,} more_")
            break
        lines.append(line)
        used += mrkdwn.length(line) + 1
    else:
        if section.more:
            lines.append(f"_…and {section.more:,} more_")
    return SectionBlock(text=_mrkdwn("\n".join(lines)))


def _field_text(row: Row) -> str:
    value = escape_and_truncate(f"{row.value}{previous_text(row)}", 300)
    return f"*{escape_and_truncate(row.label, 100)}*\n{value}"


def _stacked_text(row: Row) -> str:
    lines = [f"*{escape_and_truncate(row.label, 100)}*", escape_and_truncate(row.value, 300)]
    if row.previous is not None:
        lines.append(f"_prev. {escape_and_truncate(row.previous, 300)}_")
    return "\n".join(lines)


def _inline_text(row: Row) -> str:
    name = f"*{escape_and_truncate(row.label, 120)}*"
    return f"{name}: {escape_and_truncate(f'{row.value}{previous_text(row)}', 500)}"


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)
