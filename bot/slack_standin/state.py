"""The stand-in's Slack workspace: its users, channels, messages, files and views, and the ids
and message timestamps it mints.

Nothing here locks: ``SlackStandin`` holds its one lock around every use of a ``Workspace``.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.slack_standin.protocol import CHANNEL_ID, USER_ID, Json, SlackError, truthy


def ts_key(ts: object) -> int:
    """Microseconds since the epoch for a Slack ``ts``; ValueError when it is not one."""
    try:
        return int(Decimal(str(ts)) * 1_000_000)
    except InvalidOperation as exc:
        raise ValueError(ts) from exc


def format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _tz_info(tz: str) -> tuple[int, str]:
    try:
        now = datetime.now(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return 0, tz
    offset = now.utcoffset()
    return int(offset.total_seconds()) if offset else 0, now.tzname() or tz


class Workspace:
    """Everything the Web API methods read and write; ``forget_activity`` empties all but the
    directory (users, user groups, channel names and members)."""

    def __init__(self, *, team_id: str, bot_user_id: str, bot_id: str, app_id: str) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.base_url = ""  # set while serving: where upload and file URLs point
        self.users: dict[str, Json] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, str] = {}  # id -> name
        self.members: dict[str, set[str]] = {}  # channel id -> user ids (add_channel'd only)
        self.messages: dict[str, dict[str, Json]] = {}  # channel id -> ts -> message
        self.files: dict[str, Json] = {}
        self.uploads: dict[str, bytes] = {}
        self.views: dict[str, Json] = {}
        self.home_views: dict[str, str] = {}  # user id -> view id
        self.triggers: dict[str, float | None] = {}  # trigger id -> minted at, None once used
        self._ids = itertools.count(1)
        self._last_ts = 0

    def forget_activity(self) -> None:
        for store in (self.messages, self.files, self.uploads, self.views):
            store.clear()
        self.home_views.clear()
        self.triggers.clear()

    def next_id(self) -> int:
        return next(self._ids)

    def next_ts(self) -> str:
        """A message ts, strictly later than any minted before (Slack's are unique per channel)."""
        self._last_ts = max(time.time_ns() // 1000, self._last_ts + 1)
        return format_ts(self._last_ts)

    # ----------------------------------------------------------------- directory

    def add_user(
        self, user_id: str, *, name: str | None, real_name: str | None, is_bot: bool, tz: str
    ) -> None:
        name = name or user_id.lower()
        real_name = real_name or name
        offset, label = _tz_info(tz)
        profile: Json = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name,
            "display_name_normalized": name,
            "team": self.team_id,
        }
        if user_id == self.bot_user_id:
            profile["bot_id"] = self.bot_id
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "tz_label": label,
            "tz_offset": offset,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "profile": profile,
        }

    def resolve_channel(self, raw: object) -> str | None:
        if not isinstance(raw, str) or not raw:
            return None
        name = raw.removeprefix("#")
        for channel_id, channel_name in self.channels.items():
            if raw == channel_id or name == channel_name:
                return channel_id
        if CHANNEL_ID.match(raw):
            return raw
        if USER_ID.match(raw):
            return "D" + raw[1:]  # posting to a user id writes to the DM with that user
        return None

    def channel(self, raw: object, error: str = "channel_not_found") -> str:
        channel_id = self.resolve_channel(raw)
        if channel_id is None:
            raise SlackError(error)
        return channel_id

    # ----------------------------------------------------------------- messages

    def sorted_messages(self, channel_id: str) -> list[Json]:
        """A channel's messages oldest first, thread replies included (the stored objects)."""
        return sorted(self.messages.get(channel_id, {}).values(), key=lambda m: ts_key(m["ts"]))

    def find(self, channel_id: str, ts: object, error: str = "message_not_found") -> Json:
        found = self.messages.get(channel_id, {}).get(str(ts))
        if found is None:
            raise SlackError(error)
        return found

    def store_message(self, channel_id: str, params: Json, *, user: str) -> Json:
        """Append a message (or thread reply) to a channel and update its thread root."""
        message: Json = {"type": "message", "text": params.get("text") or "", "user": user}
        if user == self.bot_user_id:
            message.update(bot_id=self.bot_id, app_id=self.app_id)
        for key in ("blocks", "attachments", "metadata", "files"):
            if params.get(key) is not None:
                message[key] = params[key]
        root: Json | None = None
        if params.get("thread_ts"):
            parent = self.find(channel_id, params["thread_ts"], "thread_not_found")
            root = self.find(channel_id, parent.get("thread_ts", parent["ts"]), "thread_not_found")
        ts = self.next_ts()
        message.update(ts=ts, team=self.team_id)
        if root is not None:
            message.update(thread_ts=root["ts"], parent_user_id=root["user"])
            if truthy(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
            reply_users = sorted({*root.get("reply_users", []), user})
            root.update(
                thread_ts=root["ts"],
                reply_count=root.get("reply_count", 0) + 1,
                latest_reply=ts,
                reply_users=reply_users,
                reply_users_count=len(reply_users),
            )
        self.messages.setdefault(channel_id, {})[ts] = message
        return message
