"""Reviewers' names for the digest: from users.info, remembered, the id when Slack has none."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.digest.names import CACHE_SECONDS, display_names, name_of
from bot.slack_standin.server import SlackStandin


def test_names_come_from_users_info_once_and_fall_back_to_the_id() -> None:
    with SlackStandin() as standin:
        standin.add_user("U0ALICE", name="alice", real_name="Alice Martin")
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        assert display_names(client, ["U0ALICE", "U0GONE", "U0ALICE"], now=0.0) == {
            "U0ALICE": "alice",
            "U0GONE": "U0GONE",
        }
        display_names(client, ["U0ALICE"], now=10.0)  # remembered
        assert len(standin.calls_to("users.info")) == 2
        display_names(client, ["U0ALICE"], now=CACHE_SECONDS + 1)  # asked again an hour later
        assert len(standin.calls_to("users.info")) == 3


def test_name_of_prefers_the_display_name() -> None:
    assert name_of({"name": "al", "profile": {"display_name": "", "real_name": "Al B"}}) == "Al B"
    assert name_of({"name": "al", "profile": {}}) == "al"
    assert name_of({}) is None
