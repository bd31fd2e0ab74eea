"""Errors of the bot layer, translated once at each boundary (HTTP, Slack, exit code)."""

from __future__ import annotations


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
