"""Requests as Slack sends them to an app: signed, form-encoded, with real payload shapes.

The Slack side of the stand-in: the demo's simulated reviewers and the scenario tests use it to
click buttons, open App Home and run `/hitl` against a real `hitl serve`. The payload builders
serve Socket Mode too, where the same payloads travel as JSON in envelopes
(``SlackStandin.socket_send``) and need no signature. The signature is
Slack's ``v0`` scheme: HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def sign(body: str, *, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request with ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def interactive_body(payload: dict[str, Any]) -> str:
    """Interactivity payloads arrive as ``payload=<json>``, form-encoded."""
    return urlencode({"payload": json.dumps(payload)})


def block_actions_payload(
    *,
    user_id: str,
    channel: str,
    message: dict[str, Any],
    action: dict[str, Any],
    team_id: str = "T0STANDIN",
    response_url: str = "https://hooks.slack.com/actions/T0STANDIN/1/x",
    action_ts: str | None = None,
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on ``action`` (a button or select element of
    ``message``), shaped like the ones Slack posts to the Request URL."""
    clicked = {
        "type": action.get("type", "button"),
        "action_id": action["action_id"],
        "block_id": action.get("block_id", ""),
        "action_ts": action_ts or f"{time.time():.6f}",
    }
    if clicked["type"] == "static_select":
        clicked["selected_option"] = action["selected_option"]
    else:
        clicked["value"] = action.get("value", "")
        clicked["text"] = action.get("text", {"type": "plain_text", "text": ""})
    return {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": team_id,
        },
        "api_app_id": "A0STANDIN",
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": "standin"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "review"},
        "message": message,
        "response_url": response_url,
        "actions": [clicked],
    }


def view_submission_payload(
    *,
    user_id: str,
    view: dict[str, Any],
    values: dict[str, dict[str, str | None]],
    team_id: str = "T0STANDIN",
) -> dict[str, Any]:
    """A ``view_submission`` payload: the modal ``view`` as ``views.open`` answered it, with
    ``values`` (block_id → action_id → typed text) as its plain-text inputs' state."""
    state = {
        block_id: {
            action_id: {"type": "plain_text_input", "value": value}
            for action_id, value in inputs.items()
        }
        for block_id, inputs in values.items()
    }
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "standin"},
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower()},
        "api_app_id": "A0STANDIN",
        "token": "verification-token-unused",
        "trigger_id": "13345224609.738474920.8088930838d88f008e1",
        "view": {**view, "state": {"values": state}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def find_action(message: dict[str, Any], predicate: Any) -> dict[str, Any]:
    """The first interactive element of ``message`` for which ``predicate(element)`` holds,
    with the ``block_id`` of its block (as Slack reports it back)."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if "action_id" in element and predicate(element):
                return {**element, "block_id": block.get("block_id", "")}
        accessory = block.get("accessory")
        if accessory and "action_id" in accessory and predicate(accessory):
            return {**accessory, "block_id": block.get("block_id", "")}
    raise LookupError("no such element in the message")


def event_callback(event: dict[str, Any], *, team_id: str = "T0STANDIN") -> dict[str, Any]:
    """An Events API ``event_callback`` envelope: the POST body over HTTP, the ``payload`` of an
    ``events_api`` envelope in Socket Mode."""
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "api_app_id": "A0STANDIN",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{int(time.time() * 1e6)}",
        "event_time": int(time.time()),
    }


def event_body(event: dict[str, Any], *, team_id: str = "T0STANDIN") -> str:
    """An Events API ``event_callback`` envelope, JSON-encoded."""
    return json.dumps(event_callback(event, team_id=team_id))


def slash_command_payload(
    *,
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    team_id: str = "T0STANDIN",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> dict[str, str]:
    """A slash command's fields: form-encoded over HTTP, the JSON ``payload`` of a
    ``slash_commands`` envelope in Socket Mode."""
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": "standin",
        "channel_id": channel_id,
        "channel_name": "review",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0STANDIN",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def form_body(fields: dict[str, str]) -> str:
    """Fields form-encoded, as Slack posts a slash command to the Request URL."""
    return urlencode(fields)
