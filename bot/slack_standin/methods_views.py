"""``views.*`` methods: App Home and modals, with Slack's view limits, hashes and trigger ids."""

from __future__ import annotations

import copy
import re
import time
from typing import cast

from bot.slack_standin.limits import view_error
from bot.slack_standin.protocol import Json, SlackError, require
from bot.slack_standin.state import Workspace

_TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_TRIGGER_TTL = 3.0  # seconds Slack honours a trigger_id


def mint_trigger(ws: Workspace) -> str:
    """A fresh trigger_id, shaped like Slack's, that ``views.open`` will accept once."""
    trigger = f"{ws.next_id()}.{int(time.time())}.{ws.next_id():012x}"
    ws.triggers[trigger] = time.monotonic()
    return trigger


def _use_trigger(ws: Workspace, trigger: str) -> None:
    """Slack trigger_ids are single-use and expire; minted ones are held to that here."""
    if not _TRIGGER_ID.match(trigger):
        raise SlackError("invalid_trigger_id")
    if trigger not in ws.triggers:
        return  # well-formed but minted elsewhere (a hand-written payload): accept
    issued = ws.triggers[trigger]
    if issued is None:
        raise SlackError("exchanged_trigger_id")
    if time.monotonic() - issued > _TRIGGER_TTL:
        raise SlackError("expired_trigger_id")
    ws.triggers[trigger] = None


def _store_view(ws: Workspace, view: Json, view_id: str | None = None) -> Json:
    view_id = view_id or f"V{ws.next_id():010d}"
    stored: Json = {
        "id": view_id,
        "team_id": ws.team_id,
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "state": {"values": {}},
        "clear_on_close": False,
        "notify_on_close": False,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": ws.app_id,
        "bot_id": ws.bot_id,
        **view,
        "hash": f"{int(time.time())}.{ws.next_id():08x}",
    }
    stored["id"] = stored["root_view_id"] = view_id
    ws.views[view_id] = stored
    return {"ok": True, "view": copy.deepcopy(stored)}


def _checked_view(params: Json, expected_type: str | None) -> Json:
    view = params.get("view")
    if view is None:
        raise SlackError("invalid_arguments", ("[ERROR] missing required field: view",))
    problem = view_error(view, expected_type=expected_type)
    if problem is not None:
        raise SlackError.from_limit(problem)
    return cast(Json, view)


def _check_hash(ws: Workspace, params: Json, view_id: str | None) -> None:
    given = params.get("hash")
    if given and view_id is not None and ws.views[view_id]["hash"] != given:
        raise SlackError("hash_conflict")


def views_publish(ws: Workspace, params: Json) -> Json:
    user_id = require(params, "user_id")
    view = _checked_view(params, "home")
    current = ws.home_views.get(user_id)
    _check_hash(ws, params, current)
    answer = _store_view(ws, view, current)
    ws.home_views[user_id] = answer["view"]["id"]
    return answer


def views_open(ws: Workspace, params: Json) -> Json:
    if not params.get("interactivity_pointer"):
        _use_trigger(ws, require(params, "trigger_id"))
    return _store_view(ws, _checked_view(params, "modal"))


def views_update(ws: Workspace, params: Json) -> Json:
    view_id = params.get("view_id")
    external_id = params.get("external_id")
    if not view_id and external_id:
        matching = (v["id"] for v in ws.views.values() if v["external_id"] == external_id)
        view_id = next(matching, None)
    if not view_id or view_id not in ws.views:
        raise SlackError("not_found")
    _check_hash(ws, params, str(view_id))
    return _store_view(ws, _checked_view(params, None), str(view_id))
