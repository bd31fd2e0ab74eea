"""Who is who: ``auth.test`` (the bot itself), ``users.info`` and ``usergroups.users.list``."""

from __future__ import annotations

import copy

from bot.slack_standin.protocol import Json, SlackError, require
from bot.slack_standin.state import Workspace


def auth_test(ws: Workspace, params: Json) -> Json:
    return {
        "ok": True,
        "url": "https://standin.slack.com/",
        "team": "Slack Stand-in",
        "user": ws.users[ws.bot_user_id]["name"],
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def users_info(ws: Workspace, params: Json) -> Json:
    user = ws.users.get(str(params.get("user")))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": copy.deepcopy(user)}


def usergroups_users_list(ws: Workspace, params: Json) -> Json:
    members = ws.usergroups.get(require(params, "usergroup"))
    if members is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(members)}
