"""File uploads, Slack's three steps: ``files.getUploadURLExternal`` mints a file id and an
upload URL, the client sends the bytes there (``receive_upload``), ``files.completeUploadExternal``
shares the file in channels."""

from __future__ import annotations

import copy
import mimetypes
import time

from bot.slack_standin.http_server import Answer, Request, multipart, text_answer
from bot.slack_standin.protocol import Json, SlackError, require
from bot.slack_standin.state import Workspace


def files_get_upload_url(ws: Workspace, params: Json) -> Json:
    filename = require(params, "filename")
    try:
        length = int(require(params, "length"))
    except ValueError as exc:
        raise SlackError("invalid_arguments", ("[ERROR] length must be an integer",)) from exc
    file_id = f"F{ws.next_id():010d}"
    ws.files[file_id] = {"id": file_id, "name": filename, "length": length}
    return {"ok": True, "upload_url": f"{ws.base_url}/upload/{file_id}", "file_id": file_id}


def receive_upload(
    ws: Workspace, file_id: str, request: Request, params: Json
) -> tuple[Answer, Json]:
    """The upload URL from files.getUploadURLExternal: raw bytes or multipart."""
    issued = ws.files.get(file_id)
    if issued is None:
        return text_answer(404, "Not Found"), {"status": 404, "text": "Not Found"}
    data = request.body
    if "multipart/form-data" in request.header("Content-Type").lower():
        parts = multipart(request.header("Content-Type"), request.body)
        chosen = next((p for p in parts if p[1]), None) or next(
            (p for p in parts if p[0] in ("file", "filename")), None
        )
        data = chosen[2] if chosen else b""
    params.update({"file_id": file_id, "size": len(data)})
    ws.uploads[file_id] = data
    issued.update(uploaded=True, size=len(data))
    text = f"OK - {len(data)}"
    return text_answer(200, text), {"status": 200, "text": text}


def files_complete_upload(ws: Workspace, params: Json) -> Json:
    """Share uploaded files; each file id completes once, and must have been uploaded."""
    files = params.get("files")
    if not isinstance(files, list) or not files:
        raise SlackError("invalid_arguments", ("[ERROR] missing required field: files",))
    targets = [params["channel_id"]] if params.get("channel_id") else []
    targets += [c for c in str(params.get("channels") or "").split(",") if c]
    channel_ids = [ws.channel(c, "invalid_channel") for c in targets]
    issued = []
    for item in files:
        found = ws.files.get(str(item.get("id"))) if isinstance(item, dict) else None
        if found is None or not found.get("uploaded") or found.get("completed"):
            raise SlackError("file_not_found")
        issued.append((found, item))
    shared = [_file_object(ws, found, item, channel_ids) for found, item in issued]
    for found, _ in issued:
        found["completed"] = True
    for channel_id in channel_ids:
        share = {
            "text": params.get("initial_comment") or "",
            "files": copy.deepcopy(shared),
            "thread_ts": params.get("thread_ts"),
        }
        ws.store_message(channel_id, share, user=ws.bot_user_id)
    return {"ok": True, "files": shared}


def _file_object(ws: Workspace, found: Json, item: Json, channel_ids: list[str]) -> Json:
    name = found["name"]
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    now = int(time.time())
    return {
        "id": found["id"],
        "created": now,
        "timestamp": now,
        "name": name,
        "title": item.get("title") or name,
        "mimetype": mimetype,
        "filetype": name.rpartition(".")[2] if "." in name else "binary",
        "user": ws.bot_user_id,
        "size": found.get("size", 0),
        "url_private": f"{ws.base_url}/files/{found['id']}/{name}",
        "permalink": f"https://standin.slack.com/files/{ws.bot_user_id}/{found['id']}/{name}",
        "channels": [c for c in channel_ids if c.startswith("C")],
        "groups": [c for c in channel_ids if c.startswith("G")],
        "ims": [c for c in channel_ids if c.startswith("D")],
    }
