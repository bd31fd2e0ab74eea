"""What `POST /slack/events` checks before Bolt sees a request.

Bolt parses the body as it builds its request, before its own signature check, and its matchers
assume Slack's shapes (``actions[0]``, ``user.id``, ...): an unsigned ``payload=xxx`` or a
signed but malformed payload would make it raise, and the client get a 500. Here, in order:
the signature (timestamp, then the HMAC of the raw body), then the body
parsed the way Bolt will parse it, then the shapes Slack always sends. Each problem is one
``SlackRequestProblem`` with a 4xx status and a message naming it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_AGE_SECONDS = 5 * 60


@dataclass(frozen=True)
class SlackRequestProblem(Exception):
    status: int
    message: str


def check_slack_request(
    body: bytes,
    headers: Mapping[str, str],
    *,
    signing_secret: str,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The body as Bolt will parse it, once the request is shown to be Slack's and well formed;
    ``SlackRequestProblem`` otherwise."""
    _check_signature(body, headers, signing_secret=signing_secret, now=now)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SlackRequestProblem(400, "the body is not UTF-8") from None
    parsed = _parse_like_bolt(text, headers.get("content-type"))
    problem = shape_problem(parsed)
    if problem is not None:
        raise SlackRequestProblem(400, problem)
    return parsed


def _check_signature(
    body: bytes, headers: Mapping[str, str], *, signing_secret: str, now: Callable[[], float]
) -> None:
    if not signing_secret:
        raise SlackRequestProblem(401, "this app takes Slack's requests over Socket Mode only")
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp:
        raise SlackRequestProblem(401, "X-Slack-Request-Timestamp is missing")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SlackRequestProblem(401, "X-Slack-Request-Timestamp is not a Unix time in seconds")
    if abs(now() - int(timestamp)) > MAX_AGE_SECONDS:
        raise SlackRequestProblem(401, "X-Slack-Request-Timestamp is more than 5 minutes off")
    if not signature:
        raise SlackRequestProblem(401, "X-Slack-Signature is missing")
    # Slack's v0 scheme over the raw bytes; slack_sdk's SignatureVerifier decodes them as UTF-8
    # first and raises on anything else, so the HMAC is computed here.
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SlackRequestProblem(401, "X-Slack-Signature does not match the body")


def _parse_like_bolt(text: str, content_type: str | None) -> dict[str, Any]:
    """What ``slack_bolt.request.internals.parse_body`` will make of the body, without its
    exceptions: JSON for ``application/json`` or a body starting with ``{``; else a form, whose
    ``payload`` field (interactivity) holds JSON."""
    if not text:
        return {}
    if content_type == "application/json" or text.startswith("{"):
        return _json_object(text, "the body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        return {} if payload is None else _json_object(payload, "the payload field")
    return dict(parse_qsl(text, keep_blank_values=True))


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except RecursionError:
        raise SlackRequestProblem(400, f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise SlackRequestProblem(400, f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SlackRequestProblem(400, f"{what} is not a JSON object")
    return value


# Fields Slack sends as objects (or, for some, a bare id) wherever they appear, and that Bolt
# and the listeners read into; checked at the top level and in the objects Bolt looks inside.
_OBJECT_OR_ID = ("user", "team", "enterprise", "channel")
_OBJECT = (
    "container",
    "view",
    "message",
    "previous_message",
    "event",
    "item",
    "state",
    "function",
    "context",
    "tokens",
)
_NESTED = ("event", "message", "previous_message", "item")
_STRINGS = ("type", "user_id", "team_id", "channel_id", "enterprise_id", "command", "text")
_MAX_DEPTH = 64


def shape_problem(payload: dict[str, Any], where: str = "", depth: int = 0) -> str | None:
    """The first field that does not have the shape Slack gives it, named; None if all do."""
    if depth > _MAX_DEPTH:
        return f"{where or 'the payload'} is nested too deeply"
    for key in _STRINGS:
        if key in payload and not isinstance(payload[key], str | None):
            return f"{where}{key} must be a string"
    for key in _OBJECT_OR_ID:
        value = payload.get(key)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, dict):
            return f"{where}{key} must be an object"
        if "id" in value and not isinstance(value["id"], str):
            return f"{where}{key}.id must be a string"
    for key in _OBJECT:  # Bolt reads these with .get(key, {}): null is not absent
        if key in payload and not isinstance(payload[key], dict):
            return f"{where}{key} must be an object"
    authorizations = payload.get("authorizations")
    if authorizations is not None:
        if not isinstance(authorizations, list) or not all(
            isinstance(a, dict) for a in authorizations
        ):
            return f"{where}authorizations must be a list of objects"
        if authorizations and (
            problem := shape_problem(authorizations[0], f"{where}authorizations.0.", depth + 1)
        ):
            return problem
    for key in _NESTED:
        nested = payload.get(key)
        if isinstance(nested, dict) and (
            problem := shape_problem(nested, f"{where}{key}.", depth + 1)
        ):
            return problem
    return _interaction_problem(payload, where)


def _interaction_problem(payload: dict[str, Any], where: str) -> str | None:
    kind = payload.get("type")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            return f"{where}actions must be a non-empty list"
        for i, action in enumerate(actions):
            if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
                return f"{where}actions.{i}.action_id must be a string"
            for key in ("value", "action_ts", "block_id"):
                if key in action and not isinstance(action[key], str | None):
                    return f"{where}actions.{i}.{key} must be a string"
            option = action.get("selected_option")
            if option is not None and not (
                isinstance(option, dict) and isinstance(option.get("value"), str)
            ):
                return f"{where}actions.{i}.selected_option.value must be a string"
    if kind in ("block_actions", "view_submission", "view_closed", "shortcut", "message_action"):
        user = payload.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            return f"{where}user.id must be a string"
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("callback_id", ""), str):
            return f"{where}view.callback_id must be a string"
    if kind == "event_callback":
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return f"{where}event.type must be a string"
    return None
