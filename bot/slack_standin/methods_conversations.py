"""``conversations.*`` methods: read history and threads (paged like Slack), describe and open
channels and DMs, list a channel's members."""

from __future__ import annotations

import base64
import binascii
import copy

from bot.slack_standin.protocol import USER_ID, Json, SlackError, require, truthy
from bot.slack_standin.state import Workspace, ts_key

_HISTORY_LIMIT, _HISTORY_MAX = 100, 999
_MEMBERS_LIMIT, _MEMBERS_MAX = 100, 1000


def conversations_history(ws: Workspace, params: Json) -> Json:
    """Top-level messages newest first, paged like Slack with an opaque next_cursor."""
    channel_id = ws.channel(params.get("channel"))
    limit = _limit(params.get("limit"), _HISTORY_LIMIT, _HISTORY_MAX)
    oldest = _ts_param(params, "oldest", "invalid_ts_oldest")
    latest = _ts_param(params, "latest", "invalid_ts_latest")
    inclusive = truthy(params.get("inclusive"))
    before = int(_decode_cursor(params["cursor"], "next_ts")) if params.get("cursor") else None

    def wanted(message: Json) -> bool:
        key = ts_key(message["ts"])
        is_top = message.get("thread_ts", message["ts"]) == message["ts"]
        return (
            (is_top or message.get("subtype") == "thread_broadcast")
            and (oldest is None or key > oldest or (inclusive and key == oldest))
            and (latest is None or key < latest or (inclusive and key == latest))
            and (before is None or key < before)
        )

    selected = [m for m in reversed(ws.sorted_messages(channel_id)) if wanted(m)]
    page = selected[:limit]
    body: Json = {
        "ok": True,
        "messages": _for_reading(page, params),
        "has_more": len(selected) > limit,
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }
    if body["has_more"]:
        cursor = base64.b64encode(f"next_ts:{ts_key(page[-1]['ts'])}".encode()).decode()
        body["response_metadata"] = {"next_cursor": cursor}
    return body


def conversations_members(ws: Workspace, params: Json) -> Json:
    """User ids of a channel's members, paged like Slack: ``next_cursor`` is ``""`` on the last
    page. Unlike posting, this needs a channel made with ``add_channel`` (else
    ``channel_not_found``): a membership check must not pass for a channel nobody set up.

    Members come sorted by id and the cursor names the first id of the next page, so someone
    leaving between two pages shifts nobody else out of the listing.
    """
    channel_id = ws.resolve_channel(params.get("channel"))
    if channel_id is None or channel_id not in ws.channels:
        raise SlackError("channel_not_found")
    limit = _limit(params.get("limit"), _MEMBERS_LIMIT, _MEMBERS_MAX)
    start = _decode_cursor(params["cursor"], "user") if params.get("cursor") else ""
    remaining = [u for u in sorted(ws.members.get(channel_id, ())) if u >= start]
    page, rest = remaining[:limit], remaining[limit:]
    cursor = base64.b64encode(f"user:{rest[0]}".encode()).decode() if rest else ""
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}


def conversations_replies(ws: Workspace, params: Json) -> Json:
    channel_id = ws.channel(params.get("channel"))
    root = ws.find(channel_id, require(params, "ts"), "thread_not_found")
    root_ts = root.get("thread_ts", root["ts"])
    thread = [m for m in ws.sorted_messages(channel_id) if m.get("thread_ts", m["ts"]) == root_ts]
    return {"ok": True, "messages": _for_reading(thread, params), "has_more": False}


def conversations_info(ws: Workspace, params: Json) -> Json:
    channel_id = ws.channel(params.get("channel"))
    is_im = channel_id.startswith("D")
    return {
        "ok": True,
        "channel": {
            "id": channel_id,
            "name": ws.channels.get(channel_id, channel_id.lower()),
            "is_channel": channel_id.startswith("C"),
            "is_group": channel_id.startswith("G"),
            "is_im": is_im,
            "is_private": not channel_id.startswith("C"),
            "is_archived": False,
            "is_member": True,
            "created": 1_700_000_000,
            **({"user": "U" + channel_id[1:]} if is_im else {}),
        },
    }


def conversations_open(ws: Workspace, params: Json) -> Json:
    """A DM (one user) or group DM id; reopening gives the same id, as on Slack."""
    if params.get("channel"):
        return {"ok": True, "channel": {"id": ws.channel(params["channel"])}}
    users = [u for u in str(params.get("users") or "").split(",") if u]
    if not users:
        raise SlackError("users_list_not_supplied")
    if not all(USER_ID.match(u) for u in users):
        raise SlackError("user_not_found")
    if len(users) == 1:
        return {"ok": True, "channel": {"id": "D" + users[0][1:]}}
    return {"ok": True, "channel": {"id": "G" + "".join(sorted(u[1:] for u in users))[:10]}}


def _for_reading(messages: list[Json], params: Json) -> list[Json]:
    """Copies as reads return them: metadata only with ``include_all_metadata``."""
    keep_metadata = truthy(params.get("include_all_metadata"))
    out = copy.deepcopy(messages)
    for message in out:
        if not keep_metadata:
            message.pop("metadata", None)
    return out


def _limit(raw: object, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        limit = int(str(raw))
    except ValueError as exc:
        raise SlackError("invalid_limit") from exc
    return default if limit <= 0 else min(limit, maximum)


def _ts_param(params: Json, key: str, error: str) -> int | None:
    if params.get(key) in (None, ""):
        return None
    try:
        return ts_key(params[key])
    except ValueError as exc:
        raise SlackError(error) from exc


def _decode_cursor(cursor: object, kind: str) -> str:
    """The value of a cursor this stand-in minted (``base64("<kind>:<value>")``)."""
    try:
        decoded = base64.b64decode(str(cursor), validate=True).decode()
        prefix, _, value = decoded.partition(":")
        if prefix != kind or not value:
            raise ValueError(decoded)
        if kind == "next_ts":
            int(value)  # a cursor of history holds a whole number of microseconds
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise SlackError("invalid_cursor") from exc
