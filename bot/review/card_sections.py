"""The item's part of a card: its fields and context as section fields, and quoted texts.

Values from items are escaped (``bot.mrkdwn``) and carried in ``verbatim`` mrkdwn objects, so an
item can never ping, mention or link. Fields past a budget are counted, not shown.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot import mrkdwn
from bot.mrkdwn import escape_and_truncate

_KEY, _VALUE = 100, 300  # one field: "*key*\nvalue"


def field_sections(
    heading: str, values: Mapping[str, object], max_sections: int, budget: int
) -> list[Block]:
    """Key/value pairs as section fields, 10 per section, the heading on the first section.

    Fields past ``max_sections`` sections or ``budget`` characters are counted on the last one.
    """
    if not values:
        return []
    texts: list[str] = []
    used = 0
    for key, value in values.items():
        name = escape_and_truncate(key.strip() or "(blank)", _KEY)
        text = f"*{name}*\n{escape_and_truncate(display(value), _VALUE)}"
        if len(texts) == 10 * max_sections or used + mrkdwn.length(text) > budget:
            break
        texts.append(text)
        used += mrkdwn.length(text)
    hidden = len(values) - len(texts)
    chunks = [texts[i : i + 10] for i in range(0, len(texts), 10)] or [[]]
    sections: list[Block] = []
    for n, chunk in enumerate(chunks):
        lines = [f"*{heading}*"] if n == 0 else []
        if hidden and n == len(chunks) - 1:
            lines.append(f"_…and {hidden} more field{'' if hidden == 1 else 's'}_")
        sections.append(
            SectionBlock(
                text=mrkdwn_text("\n".join(lines)) if lines else None,
                fields=[mrkdwn_text(t) for t in chunk] or None,
            )
        )
    return sections


def quoted(title: str, text: str, limit: int) -> str:
    return f"*{title}*\n{mrkdwn.quote(text, limit)}"


def display(value: object) -> str:
    """A feature or context value as reviewers read it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def mrkdwn_text(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn_text(text))
