"""What every Web API method of the stand-in shares: JSON bodies, Slack's error answer, argument
checks and the shapes of Slack ids."""

from __future__ import annotations

import re
from typing import Any

from bot.slack_standin.limits import LimitError

Json = dict[str, Any]

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SlackError(Exception):
    """An ``{"ok": false, "error": ...}`` answer, raised from inside a method handler."""

    def __init__(self, error: str, messages: tuple[str, ...] = ()) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages

    @classmethod
    def from_limit(cls, limit: LimitError) -> SlackError:
        return cls(limit.error, limit.messages)

    def body(self) -> Json:
        body: Json = {"ok": False, "error": self.error}
        if self.error == "invalid_blocks":
            body["errors"] = [m.removeprefix("[ERROR] ") for m in self.messages]
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


def require(params: Json, key: str) -> str:
    """A required argument as a string; Slack's ``invalid_arguments`` when missing or empty."""
    value = params.get(key)
    if value is None or value == "":
        raise SlackError("invalid_arguments", (f"[ERROR] missing required field: {key}",))
    return str(value)


def truthy(value: object) -> bool:
    """A boolean argument as Slack reads it: ``true``, ``1``, ``"true"`` or ``"1"``."""
    return value is True or value == 1 or str(value).lower() in {"1", "true"}
