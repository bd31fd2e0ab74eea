"""Errors of the bot layer, translated once at each boundary (HTTP, Slack, exit code)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


class HitlError(Exception):
    """Base of the errors a user can act on; the message is shown as it is."""


class ConfigError(HitlError):
    """The queue config file or the environment is wrong; names the field."""


class UnknownQueue(HitlError):
    def __init__(self, queue: str) -> None:
        super().__init__(f"unknown queue {queue!r}")
        self.queue = queue


class NotAReviewer(HitlError):
    def __init__(self, user_id: str, queue: str) -> None:
        super().__init__(f"user {user_id} may not answer items of queue {queue!r}")
        self.user_id = user_id
        self.queue = queue


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (``ratelimited``, ``channel_not_found``…), or ``http_<status>`` when
    the answer had none (a 5xx from a proxy, an HTML error page)."""
    return str(exc.response.get("error") or f"http_{exc.response.status_code}")
