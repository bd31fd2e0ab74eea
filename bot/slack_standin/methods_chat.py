"""``chat.*`` methods: post, update, delete and link messages, checked against Slack's limits."""

from __future__ import annotations

import copy

from bot.slack_standin.limits import message_error
from bot.slack_standin.protocol import USER_ID, Json, SlackError
from bot.slack_standin.state import Workspace


def check_message(params: Json, *, text: object = None) -> None:
    """Refuse a message Slack would refuse, with Slack's error and messages."""
    problem = message_error(
        text=params.get("text") if text is None else text,
        blocks=params.get("blocks"),
        attachments=params.get("attachments"),
        metadata=params.get("metadata"),
    )
    if problem is not None:
        raise SlackError.from_limit(problem)


def chat_post_message(ws: Workspace, params: Json) -> Json:
    channel_id = ws.channel(params.get("channel"))
    check_message(params)
    message = ws.store_message(channel_id, params, user=ws.bot_user_id)
    reply = copy.deepcopy(message)
    return {"ok": True, "channel": channel_id, "ts": message["ts"], "message": reply}


def chat_update(ws: Workspace, params: Json) -> Json:
    """Replace what is given (``blocks=[]`` clears blocks); metadata kept unless given."""
    channel_id = ws.channel(params.get("channel"))
    message = ws.find(channel_id, params.get("ts"))
    if message["user"] != ws.bot_user_id:
        raise SlackError("cant_update_message")
    if all(params.get(k) is None for k in ("text", "blocks", "attachments")):
        raise SlackError("no_text")
    new_text = params["text"] if params.get("text") is not None else message["text"]
    blocks = params["blocks"] if params.get("blocks") is not None else message.get("blocks")
    check_message({**params, "blocks": blocks}, text=new_text)
    message["text"] = new_text
    for key in ("blocks", "attachments", "metadata"):
        if params.get(key) is not None:
            message[key] = params[key]
            if params[key] == [] and key != "metadata":
                del message[key]
    message["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    return {
        "ok": True,
        "channel": channel_id,
        "ts": message["ts"],
        "text": message["text"],
        "message": copy.deepcopy(message),
    }


def chat_post_ephemeral(ws: Workspace, params: Json) -> Json:
    ws.channel(params.get("channel"))
    if not USER_ID.match(str(params.get("user") or "")):
        raise SlackError("user_not_in_channel")
    check_message(params)
    return {"ok": True, "message_ts": ws.next_ts()}


def chat_delete(ws: Workspace, params: Json) -> Json:
    channel_id = ws.channel(params.get("channel"))
    message = ws.find(channel_id, params.get("ts"))
    if message["user"] != ws.bot_user_id:
        raise SlackError("cant_delete_message")
    del ws.messages[channel_id][message["ts"]]
    return {"ok": True, "channel": channel_id, "ts": message["ts"]}


def chat_get_permalink(ws: Workspace, params: Json) -> Json:
    channel_id = ws.channel(params.get("channel"))
    message = ws.find(channel_id, params.get("message_ts"))
    link = f"https://standin.slack.com/archives/{channel_id}/p{message['ts'].replace('.', '')}"
    if message.get("thread_ts", message["ts"]) != message["ts"]:
        link += f"?thread_ts={message['thread_ts']}&cid={channel_id}"
    return {"ok": True, "channel": channel_id, "permalink": link}
