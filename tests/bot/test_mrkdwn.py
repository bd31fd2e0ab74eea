"""Escaping and length-safe truncation of text sent to Slack."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot import mrkdwn

# An "&" that does not start one of the three entities Slack decodes.
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        ("fish & chips", "fish &amp; chips"),
        ("&amp; shown literally", "&amp;amp; shown literally"),
        ("@channel @here @everyone", "@channel @here @everyone"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert mrkdwn.escape(raw) == escaped


def test_truncate_keeps_short_text() -> None:
    assert mrkdwn.truncate("fraud", 5) == "fraud"


def test_truncate_cuts_with_ellipsis_at_the_limit() -> None:
    cut = mrkdwn.truncate("abcdefghij", 5)
    assert cut == "abcd…"


def test_truncate_counts_emoji_as_two_units() -> None:
    cut = mrkdwn.truncate("😀" * 10, 6)
    assert utf16_units(cut) <= 6
    assert cut == "😀😀…"


@pytest.mark.parametrize("limit", [0, -1])
def test_truncate_rejects_a_limit_below_one(limit: int) -> None:
    with pytest.raises(ValueError):
        mrkdwn.truncate("abc", limit)
    with pytest.raises(ValueError):
        mrkdwn.escape_and_truncate("abc", limit)


def test_escape_and_truncate_keeps_text_that_fits() -> None:
    assert mrkdwn.escape_and_truncate("a & b", 9) == "a &amp; b"


@pytest.mark.parametrize("limit", range(1, 60))
def test_escape_and_truncate_never_ends_in_a_partial_entity(limit: int) -> None:
    raw = "a&b<c>&&<<>>d & <!channel> 😀&"
    result = mrkdwn.escape_and_truncate(raw, limit)
    assert utf16_units(result) <= limit
    if utf16_units(mrkdwn.escape(raw)) <= limit:
        assert result == mrkdwn.escape(raw)
    else:
        assert result.endswith("…")
        body = result[:-1]
        assert not BARE_AMPERSAND.search(body), result
        assert mrkdwn.escape(raw).startswith(body)


def test_escape_and_truncate_cut_right_after_an_entity() -> None:
    # "&amp;" is 5 units; with the ellipsis a limit of 6 keeps it whole, 5 drops it.
    assert mrkdwn.escape_and_truncate("&&", 6) == "&amp;…"
    assert mrkdwn.escape_and_truncate("&&", 5) == "…"


def test_quote_prefixes_every_line_and_escapes() -> None:
    quoted = mrkdwn.quote("hi <!channel>\n& bye", 500)
    assert quoted == "> hi &lt;!channel&gt;\n> &amp; bye"


@pytest.mark.parametrize(
    "text",
    ["x" * 10_000, "line\n" * 10_000, "&<>" * 5_000, "😀\n" * 3_000, "", "\n\n\n"],
)
def test_quote_stays_within_its_limit(text: str) -> None:
    quoted = mrkdwn.quote(text, 1000)
    assert utf16_units(quoted) <= 1000
    assert all(line.startswith("> ") for line in quoted.split("\n"))
    assert not BARE_AMPERSAND.search(quoted)


@pytest.mark.parametrize(
    ("user_id", "shown"),
    [
        ("U123ABC", "<@U123ABC>"),
        ("W0PQ9", "<@W0PQ9>"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("u123", "u123"),
        ("U123>|x", "U123&gt;|x"),
        ("S123", "S123"),  # a user group is not a reviewer
    ],
)
def test_mention_only_for_user_ids(user_id: str, shown: str) -> None:
    assert mrkdwn.mention(user_id) == shown


def test_date_token_has_epoch_and_utc_fallback() -> None:
    at = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    token = mrkdwn.date(at)
    assert token == "<!date^1714564800^{date_short_pretty} at {time}|2024-05-01 12:00 UTC>"
    assert mrkdwn.date(at.astimezone(UTC)) == token


def test_date_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError):
        mrkdwn.date(datetime(2024, 5, 1, 12, 0))
