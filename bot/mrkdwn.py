"""Slack mrkdwn helpers: escaping, length-safe truncation, quotes, mentions and dates.

Everything that puts text from items (or from config) into a Slack message goes through
``escape`` or ``escape_and_truncate``: Slack treats ``&``, ``<`` and ``>`` as control
characters, so an unescaped ``<!channel>``, ``<@U123>`` or ``<https://evil|click>`` in an item
would ping a whole channel, mention someone or show a disguised link.

Bare ``@channel``/``@here``/``@everyone`` are left as they are: Slack only turns them into pings
when a message is sent with ``link_names`` (or ``parse=full``), which this bot never sets, and
the block builders mark item text ``verbatim`` so Slack does no automatic parsing of it either.
Rewriting them would change what reviewers read for no gain.

Lengths are counted in UTF-16 code units (``length``), not Python characters: Slack's limits
are in "characters" without saying which kind, and an emoji is one code point but two UTF-16
units. Counting units satisfies either reading, so an emoji-heavy reply never breaks a limit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

ELLIPSIS = "…"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_USER_GROUP_ID = re.compile(r"S[A-Z0-9]+")
_QUOTE_MAX_LINES = 30
# What Slack's mrkdwn would turn into formatting rather than show: *bold*, ~strike~, `code`,
# _italic_ (an underscore inside a word, as in snake_case, stays literal), :emoji:, and a
# quote (a line starting with ">", escaped or not).
_FORMATTING = re.compile(
    r"[*~`]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|:[a-z0-9_+'-]+:|^\s*(>|&gt;)", re.MULTILINE
)


def length(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (≥ the number of characters)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def escape(text: str) -> str:
    """Escape Slack's three control characters so the text shows literally and never parses."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` units of ``text``, ending with "…" when something was cut.

    For text that is not escaped yet, or that contains no entities; use
    ``escape_and_truncate`` for item text, which never cuts ``&amp;`` in half.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if length(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for ch in text:
        if used + _units(ch) > limit - 1:
            break
        kept.append(ch)
        used += _units(ch)
    return "".join(kept) + ELLIPSIS


def escape_and_truncate(text: str, limit: int) -> str:
    """Escape ``text`` and fit it in ``limit`` units without ever ending in a partial entity.

    Truncating after escaping could leave ``&am…``, which Slack shows as garbage; here each
    source character is kept or dropped whole, together with its entity.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    escaped = escape(text)
    if length(escaped) <= limit:
        return escaped
    kept: list[str] = []
    used = 0
    for ch in text:
        piece = _ENTITIES.get(ch, ch)
        size = len(piece) if len(piece) > 1 else _units(ch)
        if used + size > limit - 1:
            break
        kept.append(piece)
        used += size
    return "".join(kept) + ELLIPSIS


def would_format(text: str) -> bool:
    """Whether mrkdwn would format part of ``text`` instead of showing it as it is
    (``Jane *Doe*`` would be bold): such text goes out as ``plain_text``."""
    return bool(_FORMATTING.search(text))


def quote(text: str, limit: int) -> str:
    """``text`` escaped and shown as a mrkdwn block quote (``> `` before each line), ≤ ``limit``.

    At most 30 lines are kept, so the two units of ``> `` per line fit in a known budget.
    """
    lines = text.splitlines() or [""]
    shown = lines[:_QUOTE_MAX_LINES]
    body = "\n".join(shown) + (f"\n{ELLIPSIS}" if len(lines) > len(shown) else "")
    budget = limit - 2 * (_QUOTE_MAX_LINES + 1)
    if budget < 1:
        raise ValueError(f"limit must be more than {2 * (_QUOTE_MAX_LINES + 1)}")
    escaped = escape_and_truncate(body, budget)
    return "\n".join(f"> {line}" for line in escaped.split("\n"))


def mention(user_id: str) -> str:
    """A mention of a reviewer (``<@U…>``); anything that is not a user id shows as plain text."""
    if _USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return escape_and_truncate(user_id, 64)


def notify(principal: str) -> str:
    """A mention that notifies a user (``<@U…>``) or every member of a user group
    (``<!subteam^S…>``): for reminders, where pinging the group is the point."""
    if _USER_GROUP_ID.fullmatch(principal):
        return f"<!subteam^{principal}>"
    return mention(principal)


def date(at: datetime) -> str:
    """A ``<!date>`` token: each reader sees ``at`` in their own time zone, UTC as fallback."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"
