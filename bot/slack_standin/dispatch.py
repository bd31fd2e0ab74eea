"""How one HTTP request becomes Slack's answer: the path names a Web API method (or one of the two
sinks), a queued failure may answer instead, the token is checked, and the method's handler runs
against the workspace. The caller holds the stand-in's lock and records the call.

``apps.connections.open`` is the one method that takes the app-level token instead of the bot
token; it hands out a Socket Mode URL (see ``socket_mode``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qsl

from bot.slack_standin import (
    methods_chat,
    methods_conversations,
    methods_files,
    methods_users,
    methods_views,
)
from bot.slack_standin.failures import FailureQueues
from bot.slack_standin.http_server import Answer, Request, json_answer, parse_params, text_answer
from bot.slack_standin.limits import message_error
from bot.slack_standin.protocol import Json, SlackError
from bot.slack_standin.state import Workspace

# Web API method -> handler; a handler reads and writes the workspace, returns the JSON answer.
METHODS: dict[str, Callable[[Workspace, Json], Json]] = {
    "auth.test": methods_users.auth_test,
    "chat.postMessage": methods_chat.chat_post_message,
    "chat.update": methods_chat.chat_update,
    "chat.postEphemeral": methods_chat.chat_post_ephemeral,
    "chat.delete": methods_chat.chat_delete,
    "chat.getPermalink": methods_chat.chat_get_permalink,
    "views.publish": methods_views.views_publish,
    "views.open": methods_views.views_open,
    "views.update": methods_views.views_update,
    "usergroups.users.list": methods_users.usergroups_users_list,
    "users.info": methods_users.users_info,
    "conversations.history": methods_conversations.conversations_history,
    "conversations.replies": methods_conversations.conversations_replies,
    "conversations.info": methods_conversations.conversations_info,
    "conversations.open": methods_conversations.conversations_open,
    "conversations.members": methods_conversations.conversations_members,
    "files.getUploadURLExternal": methods_files.files_get_upload_url,
    "files.completeUploadExternal": methods_files.files_complete_upload,
}


def route(path: str) -> tuple[str, str] | None:
    """(method, rest of the path): ``/api/<method>``, or ``"upload"`` / ``"response_url"`` for
    ``/upload/<file id>`` and ``/response_url/<key>``; None for any other path (a 404)."""
    head, _, rest = path.strip("/").partition("/")
    if head == "api":
        return rest, rest
    if head in ("upload", "response_url") and rest:
        return head, rest
    return None


def answer(
    method: str,
    rest: str,
    request: Request,
    *,
    workspace: Workspace,
    failures: FailureQueues,
    bot_token: str,
    app_token: str,
    open_connection: Callable[[], str],
) -> tuple[Json, Answer, Json]:
    """The parameters to record, the answer to send, and the JSON to record as the response."""
    try:
        params, is_json = parse_params(request)
    except SlackError as exc:
        return {}, json_answer(200, exc.body()), exc.body()
    failure = failures.take(method)
    if failure is not None and failure.replaces_answer and not failure.carry_out:
        sent, recorded = failure.answer()
    elif method == "upload":
        sent, recorded = methods_files.receive_upload(workspace, rest, request, params)
    elif method == "response_url":
        sent, recorded = _response_url_post(params)
    else:
        try:
            if method == "apps.connections.open":
                # Slack: "send the token in the Authorization header, not as a parameter".
                _check_token(request, {}, False, expected=app_token, other=bot_token)
                recorded = {"ok": True, "url": open_connection()}
            else:
                handler = METHODS.get(method)
                if handler is None:
                    raise SlackError("unknown_method")
                _check_token(request, params, is_json, expected=bot_token, other=app_token)
                recorded = handler(workspace, params)
        except SlackError as exc:
            recorded = exc.body()
        sent = json_answer(200, recorded)
        if failure is not None and failure.replaces_answer:  # carried out, answered as failed
            sent, recorded = failure.answer()
    if failure is not None:
        sent = replace(sent, delay=failure.delay)
    return params, sent, recorded


def _check_token(
    request: Request, params: Json, is_json: bool, *, expected: str, other: str
) -> None:
    """Slack takes a Bearer header, or a ``token`` form/query field (never in a JSON body).
    ``other`` is the stand-in's token of the other kind (bot or app-level): Slack knows it, but
    refuses it for this method."""
    header = request.header("Authorization")
    if header.lower().startswith("bearer "):
        token: object = header[7:].strip()
    else:
        source = dict(parse_qsl(request.query)) if is_json else params
        token = source.get("token")
    if not token:
        raise SlackError("not_authed")
    if token == other:
        raise SlackError("not_allowed_token_type")
    if token != expected:
        raise SlackError("invalid_auth")


def _response_url_post(params: Json) -> tuple[Answer, Json]:
    """A response_url answers like an incoming webhook: ``ok``, or 400 and an error code."""
    payload = params.get("payload")
    if isinstance(payload, str):
        try:
            params.update(json.loads(payload))
        except ValueError:
            invalid = {"status": 400, "text": "invalid_payload"}
            return text_answer(400, "invalid_payload"), invalid
    blocks = params.get("blocks")
    problem = (
        message_error(text="x", blocks=blocks, attachments=None, metadata=None)
        if blocks is not None
        else None
    )
    if problem is not None:
        recorded = {"status": 400, "text": problem.error, "messages": list(problem.messages)}
        return text_answer(400, problem.error), recorded
    return text_answer(200, "ok"), {"status": 200, "text": "ok"}
