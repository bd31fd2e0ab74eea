"""The Slack stand-in, driven over real HTTP by slack_sdk's own clients.

Every test talks to the server the way the bot will (``WebClient(base_url=standin.api_url)``),
so a wrong response shape or error code shows up here and not in production.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.error import URLError

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.slack_standin import SlackStandin

CHANNEL = "C0REVIEW"
TS = re.compile(r"^\d{10}\.\d{6}$")
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Item 42*"}}
METADATA = {"event_type": "review_item", "event_payload": {"item_id": 42}}


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as running:
        yield running


@pytest.fixture
def client(standin: SlackStandin) -> WebClient:
    return WebClient(token=standin.bot_token, base_url=standin.api_url)


def slack_error(call: Callable[[], Any]) -> dict[str, Any]:
    """The body of the SlackApiError a call raises."""
    with pytest.raises(SlackApiError) as info:
        call()
    return dict(info.value.response.data)


# ----------------------------------------------------------------------------- auth


def test_auth_test_describes_the_bot(standin: SlackStandin, client: WebClient) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == "UBOT"
    assert answer["team_id"] == "T0STANDIN"
    assert answer["bot_id"].startswith("B")
    assert answer["url"].startswith("https://")


@pytest.mark.parametrize(("token", "error"), [(None, "not_authed"), ("xoxb-wrong", "invalid_auth")])
def test_bad_tokens_get_slacks_auth_errors(
    standin: SlackStandin, token: str | None, error: str
) -> None:
    bad = WebClient(token=token, base_url=standin.api_url)
    answer = slack_error(lambda: bad.chat_postMessage(channel=CHANNEL, text="hi"))
    assert answer == {"ok": False, "error": error}
    assert standin.messages(CHANNEL) == []


def test_token_is_accepted_as_a_form_field_but_not_inside_json(standin: SlackStandin) -> None:
    anonymous = WebClient(token=None, base_url=standin.api_url)
    assert anonymous.api_call("auth.test", params={"token": standin.bot_token})["ok"] is True
    # slack_sdk moves a JSON token into the header itself, so send this one by hand.
    in_json = httpx.post(f"{standin.api_url}auth.test", json={"token": standin.bot_token})
    assert in_json.json() == {"ok": False, "error": "not_authed"}


def test_unknown_method(client: WebClient) -> None:
    assert slack_error(lambda: client.api_call("chat.frobnicate"))["error"] == "unknown_method"


# ----------------------------------------------------------------------------- chat


def test_post_message_answers_like_slack(standin: SlackStandin, client: WebClient) -> None:
    answer = client.chat_postMessage(
        channel=CHANNEL, text="Item 42", blocks=[SECTION], metadata=METADATA
    )
    assert answer["channel"] == CHANNEL
    assert TS.match(answer["ts"])
    message = answer["message"]
    assert message["type"] == "message"
    assert (message["text"], message["user"], message["ts"]) == ("Item 42", "UBOT", answer["ts"])
    assert message["blocks"] == [SECTION]
    assert message["metadata"] == METADATA
    assert standin.message(CHANNEL, answer["ts"])["text"] == "Item 42"


def test_form_encoded_json_fields_are_parsed(standin: SlackStandin) -> None:
    form = {
        "channel": CHANNEL,
        "text": "Item 42",
        "blocks": json.dumps([SECTION]),
        "metadata": json.dumps(METADATA),
    }
    headers = {"Authorization": f"Bearer {standin.bot_token}"}
    answer = httpx.post(f"{standin.api_url}chat.postMessage", data=form, headers=headers).json()
    assert answer["ok"] is True
    call = standin.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == [SECTION]
    assert call.params["metadata"] == METADATA
    assert standin.messages(CHANNEL)[0]["blocks"] == [SECTION]


def test_a_chunked_body_is_read_whole(standin: SlackStandin) -> None:
    body = json.dumps({"channel": CHANNEL, "text": "x" * 5000}).encode()
    headers = {"Authorization": f"Bearer {standin.bot_token}", "Content-Type": "application/json"}
    answer = httpx.post(
        f"{standin.api_url}chat.postMessage",
        content=iter([body[:100], body[100:]]),  # an iterator: no Content-Length, chunked
        headers=headers,
    )
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.json()["ok"] is True
    assert standin.messages(CHANNEL)[0]["text"] == "x" * 5000


def test_channel_ids_names_and_user_dms(standin: SlackStandin, client: WebClient) -> None:
    standin.add_channel("C0GENERAL", "general")
    assert client.chat_postMessage(channel="#general", text="a")["channel"] == "C0GENERAL"
    assert client.chat_postMessage(channel="U0ALICE", text="b")["channel"] == "D0ALICE"
    assert [m["text"] for m in standin.messages("U0ALICE")] == ["b"]
    answer = slack_error(lambda: client.chat_postMessage(channel="not-a-channel", text="c"))
    assert answer["error"] == "channel_not_found"


def test_thread_replies(standin: SlackStandin, client: WebClient) -> None:
    root = client.chat_postMessage(channel=CHANNEL, text="root")["ts"]
    reply = client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=root)
    assert reply["message"]["thread_ts"] == root
    texts = [(m["text"], m.get("thread_ts")) for m in standin.messages(CHANNEL)]
    assert texts == [("root", root), ("reply", root)]
    assert standin.message(CHANNEL, root)["reply_count"] == 1
    history = client.conversations_history(channel=CHANNEL)["messages"]
    assert [m["text"] for m in history] == ["root"]
    replies = client.conversations_replies(channel=CHANNEL, ts=root)["messages"]
    assert [m["text"] for m in replies] == ["root", "reply"]
    missing = slack_error(
        lambda: client.chat_postMessage(channel=CHANNEL, text="x", thread_ts="1.000001")
    )
    assert missing["error"] == "thread_not_found"


def test_update_replaces_what_is_given(standin: SlackStandin, client: WebClient) -> None:
    ts = client.chat_postMessage(
        channel=CHANNEL, text="pending", blocks=[SECTION], metadata=METADATA
    )["ts"]
    answer = client.chat_update(channel=CHANNEL, ts=ts, text="approved")
    assert (answer["channel"], answer["ts"], answer["text"]) == (CHANNEL, ts, "approved")
    stored = standin.message(CHANNEL, ts)
    assert (stored["text"], stored["blocks"]) == ("approved", [SECTION])
    assert stored["metadata"] == METADATA
    client.chat_update(channel=CHANNEL, ts=ts, text="bare", blocks=[])
    assert "blocks" not in standin.message(CHANNEL, ts)
    assert len(standin.messages(CHANNEL)) == 1


def test_update_errors(standin: SlackStandin, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=CHANNEL, text="mine")["ts"]
    theirs = standin.add_message(CHANNEL, "theirs", user="U0ALICE")
    unknown = slack_error(lambda: client.chat_update(channel=CHANNEL, ts="1.000001", text="x"))
    assert unknown["error"] == "message_not_found"
    empty = {"channel": CHANNEL, "ts": ts}
    assert slack_error(lambda: client.api_call("chat.update", json=empty))["error"] == "no_text"
    other = slack_error(lambda: client.chat_update(channel=CHANNEL, ts=theirs, text="x"))
    assert other["error"] == "cant_update_message"


def test_post_ephemeral(standin: SlackStandin, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="only you")
    assert TS.match(answer["message_ts"])
    assert standin.messages(CHANNEL) == []
    assert standin.calls_to("chat.postEphemeral")[0].params["user"] == "U0ALICE"
    no_user = slack_error(lambda: client.api_call("chat.postEphemeral", json={"channel": CHANNEL}))
    assert no_user["error"] == "user_not_in_channel"


def test_delete_and_permalink(standin: SlackStandin, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=CHANNEL, text="gone soon")["ts"]
    link = client.chat_getPermalink(channel=CHANNEL, message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/{CHANNEL}/p{ts.replace('.', '')}")
    client.chat_delete(channel=CHANNEL, ts=ts)
    assert standin.messages(CHANNEL) == []
    assert slack_error(lambda: client.chat_delete(channel=CHANNEL, ts=ts))["error"] == (
        "message_not_found"
    )


# ----------------------------------------------------------------------------- limits


def _button(text: str = "Approve", value: str = "42", action_id: str = "approve") -> dict:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "value": value,
        "action_id": action_id,
    }


def _section(text: str = "x", **extra: Any) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def _fields(count: int, size: int = 1) -> dict:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * size}] * count}


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _actions(*elements: dict) -> dict:
    return {"type": "actions", "elements": list(elements)}


def _context(count: int) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * count}


LIMIT_CASES = [
    ("51 blocks", {"blocks": [{"type": "divider"}] * 51}, "invalid_blocks",
     "[ERROR] must be less than 51 items [json-pointer:/blocks]"),
    ("text over 40000", {"text": "x" * 40_001}, "msg_too_long", None),
    ("section text", {"blocks": [_section("x" * 3001)]}, "invalid_blocks",
     "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"),
    ("empty section text", {"blocks": [_section("")]}, "invalid_blocks",
     "[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
    ("field text", {"blocks": [_fields(1, 2001)]}, "invalid_blocks",
     "[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"),
    ("11 fields", {"blocks": [_fields(11)]}, "invalid_blocks",
     "[ERROR] must be less than 11 items [json-pointer:/blocks/0/fields]"),
    ("header text", {"blocks": [_header("h" * 151)]}, "invalid_blocks",
     "[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]"),
    ("button value", {"blocks": [_actions(_button(value="v" * 2001))]}, "invalid_blocks",
     "[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]"),
    ("button text", {"blocks": [_actions(_button(text="t" * 76))]}, "invalid_blocks",
     "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"),
    ("action_id", {"blocks": [_actions(_button(action_id="a" * 256))]}, "invalid_blocks",
     "[ERROR] must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]"),
    ("accessory action_id", {"blocks": [_section(accessory=_button(action_id="a" * 256))]},
     "invalid_blocks",
     "[ERROR] must be less than 256 characters [json-pointer:/blocks/0/accessory/action_id]"),
    ("block_id", {"blocks": [_section(block_id="b" * 256)]}, "invalid_blocks",
     "[ERROR] must be less than 256 characters [json-pointer:/blocks/0/block_id]"),
    ("26 actions", {"blocks": [_actions(*[_button()] * 26)]}, "invalid_blocks",
     "[ERROR] must be less than 26 items [json-pointer:/blocks/0/elements]"),
    ("11 context elements", {"blocks": [_context(11)]}, "invalid_blocks",
     "[ERROR] must be less than 11 items [json-pointer:/blocks/0/elements]"),
    ("blocks not an array", {"blocks": "not json"}, "invalid_blocks_format", None),
    ("no text nor blocks", {"text": ""}, "no_text", None),
    ("metadata without payload", {"metadata": {"event_type": "x"}}, "invalid_metadata_format",
     None),
]  # fmt: skip


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update", "chat.postEphemeral"])
@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [case[1:] for case in LIMIT_CASES],
    ids=[case[0] for case in LIMIT_CASES],
)
def test_slack_limits_are_enforced(
    standin: SlackStandin,
    client: WebClient,
    method: str,
    payload: dict,
    error: str,
    message: str | None,
) -> None:
    body: dict[str, Any] = {"channel": CHANNEL, "text": "fallback", **payload}
    if method == "chat.update":
        body["ts"] = client.chat_postMessage(channel=CHANNEL, text="before")["ts"]
    if method == "chat.postEphemeral":
        body["user"] = "U0ALICE"
    if error == "no_text" and method == "chat.update":
        del body["text"]
    answer = slack_error(lambda: client.api_call(method, json=body))
    assert answer["error"] == error
    if message is not None:
        assert message in answer["response_metadata"]["messages"]
        assert message.removeprefix("[ERROR] ") in answer["errors"]
    texts = [m["text"] for m in standin.messages(CHANNEL)]
    assert texts == (["before"] if method == "chat.update" else [])


def test_a_message_at_every_limit_is_accepted(client: WebClient) -> None:
    full_section = {
        "type": "section",
        "block_id": "b" * 255,
        "text": {"type": "mrkdwn", "text": "s" * 3000},
        "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10,
    }
    button = _button(text="t" * 75, value="v" * 2000, action_id="a" * 255)
    blocks = [full_section, _header("h" * 150), _actions(*[button] * 25), _context(10)]
    blocks += [{"type": "divider"}] * (50 - len(blocks))
    answer = client.chat_postMessage(channel=CHANNEL, text="x" * 40_000, blocks=blocks)
    assert len(answer["message"]["blocks"]) == 50


# ----------------------------------------------------------------------------- views


def _home(blocks: int) -> dict:
    return {"type": "home", "blocks": [{"type": "divider"}] * blocks}


def test_views_publish(standin: SlackStandin, client: WebClient) -> None:
    view = client.views_publish(user_id="U0ALICE", view=_home(100))["view"]
    assert view["id"].startswith("V")
    assert (view["type"], len(view["blocks"]), view["team_id"]) == ("home", 100, "T0STANDIN")
    assert standin.calls_to("views.publish")[0].params["view"]["type"] == "home"
    too_many = slack_error(lambda: client.views_publish(user_id="U0ALICE", view=_home(101)))
    assert too_many["error"] == "invalid_arguments"
    assert too_many["response_metadata"]["messages"] == [
        "[ERROR] must be less than 101 items [json-pointer:/view/blocks]"
    ]
    stale = slack_error(
        lambda: client.views_publish(user_id="U0ALICE", view=_home(1), hash="stale.0")
    )
    assert stale["error"] == "hash_conflict"


def test_views_open_and_update(standin: SlackStandin, client: WebClient) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Review"},
        "blocks": [SECTION],
        "private_metadata": "item=42",
    }
    trigger = standin.trigger_id()
    opened = client.views_open(trigger_id=trigger, view=modal)["view"]
    assert (opened["type"], opened["private_metadata"]) == ("modal", "item=42")
    reused = slack_error(lambda: client.views_open(trigger_id=trigger, view=modal))
    assert reused["error"] == "exchanged_trigger_id"
    bad = slack_error(lambda: client.views_open(trigger_id="nonsense", view=modal))
    assert bad["error"] == "invalid_trigger_id"
    long_title = {**modal, "title": {"type": "plain_text", "text": "t" * 25}}
    titled = slack_error(lambda: client.views_open(trigger_id="1.2.ab", view=long_title))
    assert titled["error"] == "invalid_arguments"
    updated = client.views_update(view_id=opened["id"], view={**modal, "blocks": []})["view"]
    assert (updated["id"], updated["blocks"]) == (opened["id"], [])
    missing = slack_error(lambda: client.views_update(view_id="VNOPE", view=modal))
    assert missing["error"] == "not_found"


# ----------------------------------------------------------------------------- users


def test_users_info(standin: SlackStandin, client: WebClient) -> None:
    standin.add_user("U0ALICE", name="alice", real_name="Alice Liddell", tz="UTC")
    user = client.users_info(user="U0ALICE")["user"]
    assert (user["id"], user["name"], user["real_name"], user["is_bot"]) == (
        "U0ALICE",
        "alice",
        "Alice Liddell",
        False,
    )
    assert (user["tz"], user["tz_offset"]) == ("UTC", 0)
    assert user["profile"]["real_name"] == "Alice Liddell"
    assert client.users_info(user="UBOT")["user"]["is_bot"] is True
    assert slack_error(lambda: client.users_info(user="U0NOBODY"))["error"] == "user_not_found"


def test_usergroups_users_list(standin: SlackStandin, client: WebClient) -> None:
    standin.add_usergroup("S0REVIEWERS", ["U0ALICE", "U0BOB"])
    assert client.usergroups_users_list(usergroup="S0REVIEWERS")["users"] == ["U0ALICE", "U0BOB"]
    answer = slack_error(lambda: client.usergroups_users_list(usergroup="S0NOPE"))
    assert answer["error"] == "no_such_subteam"


def test_conversations_info_and_open(standin: SlackStandin, client: WebClient) -> None:
    standin.add_channel(CHANNEL, "review")
    channel = client.conversations_info(channel=CHANNEL)["channel"]
    assert (channel["id"], channel["name"], channel["is_channel"]) == (CHANNEL, "review", True)
    assert client.conversations_open(users="U0ALICE")["channel"]["id"] == "D0ALICE"
    assert slack_error(lambda: client.conversations_info(channel="nope"))["error"] == (
        "channel_not_found"
    )


def test_conversations_members_pages_with_cursor(standin: SlackStandin, client: WebClient) -> None:
    users = [f"U0M{i:03d}" for i in range(7)]
    standin.add_channel(CHANNEL, "review", members=users[:5])
    standin.add_member("#review", users[5])
    standin.add_member(CHANNEL, users[6])
    first = client.conversations_members(channel=CHANNEL, limit=3)
    assert (first["ok"], first["members"]) == (True, users[:3])
    cursor = first["response_metadata"]["next_cursor"]
    assert cursor
    second = client.conversations_members(channel=CHANNEL, limit=3, cursor=cursor)
    assert second["members"] == users[3:6]
    third = client.conversations_members(
        channel=CHANNEL, limit=3, cursor=second["response_metadata"]["next_cursor"]
    )
    # The last page ends with an empty cursor, as on Slack.
    assert third.data == {
        "ok": True,
        "members": users[6:],
        "response_metadata": {"next_cursor": ""},
    }
    assert client.conversations_members(channel=CHANNEL)["members"] == users  # default 100


def test_conversations_members_limits_and_errors(standin: SlackStandin, client: WebClient) -> None:
    users = [f"U0M{i:04d}" for i in range(1001)]
    standin.add_channel(CHANNEL, members=users)
    standin.add_channel("C0EMPTY")
    assert len(client.conversations_members(channel=CHANNEL)["members"]) == 100
    most = client.conversations_members(channel=CHANNEL, limit=5000)
    assert most["members"] == users[:1000]  # at most 1,000 a page
    assert most["response_metadata"]["next_cursor"]
    assert client.conversations_members(channel="C0EMPTY")["members"] == []
    # A well-formed id can be posted to without add_channel, but has no members to list.
    for channel in ("C0UNKNOWN", "nope"):
        answer = slack_error(lambda c=channel: client.conversations_members(channel=c))
        assert answer == {"ok": False, "error": "channel_not_found"}
    for bad, error in [
        ({"cursor": "bm9wZQ=="}, "invalid_cursor"),
        ({"limit": "x"}, "invalid_limit"),
    ]:
        answer = slack_error(lambda b=bad: client.conversations_members(channel=CHANNEL, **b))
        assert answer["error"] == error


def test_channel_membership_setup_refuses_bad_ids(standin: SlackStandin) -> None:
    with pytest.raises(ValueError, match="not a Slack channel id: '#review'"):
        standin.add_channel("#review")
    with pytest.raises(ValueError, match="not a Slack user id: 'alice'"):
        standin.add_channel(CHANNEL, members=["alice"])
    with pytest.raises(ValueError, match="call add_channel first"):
        standin.add_member("C0UNKNOWN", "U0ALICE")


# ----------------------------------------------------------------------------- history


def test_history_is_newest_first_with_metadata_on_request(
    standin: SlackStandin, client: WebClient
) -> None:
    for i in range(3):
        client.chat_postMessage(channel=CHANNEL, text=f"m{i}", metadata=METADATA)
    plain = client.conversations_history(channel=CHANNEL)
    assert [m["text"] for m in plain["messages"]] == ["m2", "m1", "m0"]
    assert all("metadata" not in m for m in plain["messages"])
    assert plain["has_more"] is False
    rich = client.conversations_history(channel=CHANNEL, include_all_metadata=True)
    assert [m["metadata"] for m in rich["messages"]] == [METADATA] * 3


def test_history_pages_with_cursor(standin: SlackStandin, client: WebClient) -> None:
    for i in range(5):
        client.chat_postMessage(channel=CHANNEL, text=f"m{i}")
    first = client.conversations_history(channel=CHANNEL, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel=CHANNEL, limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    # slack_sdk's own paginator follows next_cursor (it reuses one response object per page).
    pages = [[m["text"] for m in page["messages"]] for page in client.conversations_history(
        channel=CHANNEL, limit=2
    )]  # fmt: skip
    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    bad = slack_error(lambda: client.conversations_history(channel=CHANNEL, cursor="garbage"))
    assert bad["error"] == "invalid_cursor"


def test_history_oldest_and_latest(standin: SlackStandin, client: WebClient) -> None:
    ts = [client.chat_postMessage(channel=CHANNEL, text=f"m{i}")["ts"] for i in range(4)]
    between = client.conversations_history(channel=CHANNEL, oldest=ts[0], latest=ts[3])
    assert [m["text"] for m in between["messages"]] == ["m2", "m1"]
    inclusive = client.conversations_history(
        channel=CHANNEL, oldest=ts[0], latest=ts[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1", "m0"]
    bad = slack_error(lambda: client.conversations_history(channel=CHANNEL, oldest="yesterday"))
    assert bad["error"] == "invalid_ts_oldest"


# ----------------------------------------------------------------------------- files


def test_upload_flow_end_to_end(standin: SlackStandin, client: WebClient) -> None:
    data = b"item,label\r\n42,spam\x00\xff\r\n--boundary-like--\r\n"
    answer = client.files_upload_v2(
        channel=CHANNEL, content=data, filename="labels.csv", title="Labels", initial_comment="hi"
    )
    file = answer["file"]
    assert (file["title"], file["name"], file["size"]) == ("Labels", "labels.csv", len(data))
    assert standin.uploads[file["id"]] == data
    upload_call = standin.calls_to("upload")[0]
    assert upload_call.response == {"status": 200, "text": f"OK - {len(data)}"}
    shared = standin.messages(CHANNEL)[0]
    assert (shared["text"], shared["files"][0]["id"]) == ("hi", file["id"])
    again = slack_error(lambda: client.files_completeUploadExternal(files=[{"id": file["id"]}]))
    assert again["error"] == "file_not_found"


@pytest.mark.parametrize("issued", [True, False], ids=["issued-not-uploaded", "never-issued"])
def test_complete_refuses_files_never_uploaded(client: WebClient, issued: bool) -> None:
    file_id = "F0NEVERISSUED"
    if issued:
        ticket = client.files_getUploadURLExternal(filename="a.txt", length=3)
        assert ticket["upload_url"].endswith(f"/upload/{ticket['file_id']}")
        file_id = ticket["file_id"]
    files: list[dict[str, str | None]] = [{"id": file_id, "title": "a"}]
    answer = slack_error(
        lambda: client.files_completeUploadExternal(files=files, channel_id=CHANNEL)
    )
    assert answer["error"] == "file_not_found"


def test_upload_accepts_multipart(standin: SlackStandin, client: WebClient) -> None:
    ticket = client.files_getUploadURLExternal(filename="a.png", length=4)
    response = httpx.post(ticket["upload_url"], files={"filename": ("a.png", b"\x89PNG")})
    assert (response.status_code, response.text) == (200, "OK - 4")
    assert standin.uploads[ticket["file_id"]] == b"\x89PNG"


# ----------------------------------------------------------------------------- failures


def test_rate_limit_raises_with_retry_after(standin: SlackStandin, client: WebClient) -> None:
    standin.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=CHANNEL, text="hi")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel=CHANNEL, text="hi")["ok"] is True
    assert [m["text"] for m in standin.messages(CHANNEL)] == ["hi"]


def test_rate_limit_retry_handler_retries_and_succeeds(standin: SlackStandin) -> None:
    retrying = WebClient(
        token=standin.bot_token,
        base_url=standin.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    standin.fail_next("chat.postMessage", status=429, retry_after=0)
    assert retrying.chat_postMessage(channel=CHANNEL, text="hi")["ok"] is True
    calls = standin.calls_to("chat.postMessage")
    assert [c.response.get("status") for c in calls] == [429, None]
    assert len(standin.messages(CHANNEL)) == 1


def test_server_errors_for_the_next_n_calls(standin: SlackStandin, client: WebClient) -> None:
    standin.fail_next("chat.postMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel=CHANNEL, text="hi")
        assert info.value.response.status_code == 500
    assert client.chat_postMessage(channel=CHANNEL, text="hi")["ok"] is True
    statuses = [c.response.get("status") for c in standin.calls_to("chat.postMessage")]
    assert statuses == [500, 500, None]


def test_a_server_error_after_carrying_the_call_out(
    standin: SlackStandin, client: WebClient
) -> None:
    standin.fail_next("chat.postMessage", status=500, carry_out=True)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=CHANNEL, text="posted, then 500")
    assert info.value.response.status_code == 500
    assert [m["text"] for m in standin.messages(CHANNEL)] == ["posted, then 500"]


def test_error_answer_with_status_200(standin: SlackStandin, client: WebClient) -> None:
    standin.fail_next("chat.postMessage", status=200, error="not_in_channel")
    answer = slack_error(lambda: client.chat_postMessage(channel=CHANNEL, text="hi"))
    assert answer == {"ok": False, "error": "not_in_channel"}
    assert standin.messages(CHANNEL) == []


def test_delay_makes_the_client_time_out(standin: SlackStandin) -> None:
    impatient = WebClient(
        token=standin.bot_token, base_url=standin.api_url, timeout=1, retry_handlers=[]
    )
    standin.fail_next("chat.postMessage", delay=3)
    with pytest.raises((TimeoutError, URLError)):
        impatient.chat_postMessage(channel=CHANNEL, text="hi")
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert standin.messages(CHANNEL) == []


def test_slow_success_still_posts_after_the_client_gave_up(standin: SlackStandin) -> None:
    impatient = WebClient(
        token=standin.bot_token, base_url=standin.api_url, timeout=1, retry_handlers=[]
    )
    standin.fail_next("chat.postMessage", status=200, delay=2)
    with pytest.raises((TimeoutError, URLError)):
        impatient.chat_postMessage(channel=CHANNEL, text="posted anyway")
    assert [m["text"] for m in standin.messages(CHANNEL)] == ["posted anyway"]


def test_slow_success_answers_after_the_delay(standin: SlackStandin, client: WebClient) -> None:
    standin.fail_next("auth.test", status=200, delay=0.3)
    started = time.monotonic()
    assert client.auth_test()["ok"] is True
    assert time.monotonic() - started >= 0.3


# ----------------------------------------------------------------------------- recording


def test_calls_are_recorded_in_order(standin: SlackStandin, client: WebClient) -> None:
    client.auth_test()
    client.chat_postMessage(channel=CHANNEL, text="hi", blocks=[SECTION])
    slack_error(lambda: client.users_info(user="U0NOBODY"))
    assert [c.method for c in standin.calls] == ["auth.test", "chat.postMessage", "users.info"]
    post = standin.calls[1]
    assert post.params == {"channel": CHANNEL, "text": "hi", "blocks": [SECTION]}
    assert post.headers["Authorization"] == f"Bearer {standin.bot_token}"
    assert post.response["ts"] == standin.messages(CHANNEL)[0]["ts"]
    assert post.path == "/api/chat.postMessage"
    assert standin.calls[2].response == {"ok": False, "error": "user_not_found"}
    assert standin.calls[0].at <= standin.calls[1].at <= standin.calls[2].at


def test_wait_for_calls(standin: SlackStandin, client: WebClient) -> None:
    poster = threading.Timer(0.1, lambda: client.chat_postMessage(channel=CHANNEL, text="later"))
    poster.start()
    calls = standin.wait_for_calls("chat.postMessage", 1, timeout=5)
    poster.join()
    assert calls[0].params["text"] == "later"
    with pytest.raises(TimeoutError, match=r"2 call\(s\) to chat.postMessage, saw 1"):
        standin.wait_for_calls("chat.postMessage", 2, timeout=0.1)


def test_reset_forgets_traffic_but_keeps_users(standin: SlackStandin, client: WebClient) -> None:
    standin.add_user("U0ALICE", name="alice")
    client.chat_postMessage(channel=CHANNEL, text="hi")
    standin.fail_next("auth.test", status=500)
    standin.reset()
    assert (standin.calls, standin.messages(CHANNEL)) == ([], [])
    assert client.auth_test()["ok"] is True
    assert client.users_info(user="U0ALICE")["user"]["name"] == "alice"


def test_reset_keeps_channels_and_their_members(standin: SlackStandin, client: WebClient) -> None:
    standin.add_channel(CHANNEL, "review", members=["U0ALICE"])
    standin.add_channel(CHANNEL, "review")  # named again: its members stay
    standin.reset()
    assert client.conversations_members(channel="#review")["members"] == ["U0ALICE"]


def test_response_url_sink(standin: SlackStandin) -> None:
    url = standin.response_url("click-1")
    response = WebhookClient(url).send(text="Thanks!", replace_original=True)
    assert (response.status_code, response.body) == (200, "ok")
    call = standin.calls_to("response_url")[0]
    assert call.params == {"text": "Thanks!", "replace_original": True}
    assert call.path == "/response_url/click-1"
    refused = WebhookClient(url).send(blocks=[{"type": "divider"}] * 51)
    assert (refused.status_code, refused.body) == (400, "invalid_blocks")


# ----------------------------------------------------------------------------- throughput


def test_300_messages_through_one_webclient(standin: SlackStandin, client: WebClient) -> None:
    for i in range(300):
        client.chat_postMessage(channel=CHANNEL, text=f"m{i}")
    assert len(standin.calls_to("chat.postMessage")) == 300
    messages = standin.messages(CHANNEL)
    assert [m["text"] for m in messages] == [f"m{i}" for i in range(300)]


def test_concurrent_posts_get_unique_increasing_ts(standin: SlackStandin) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def post_many(worker: int) -> None:
        own = WebClient(token=standin.bot_token, base_url=standin.api_url)
        for i in range(25):
            ts = own.chat_postMessage(channel=CHANNEL, text=f"{worker}-{i}")["ts"]
            with lock:
                results.append(ts)

    threads = [threading.Thread(target=post_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(set(results)) == 200
    stored = [m["ts"] for m in standin.messages(CHANNEL)]
    assert stored == sorted(results, key=lambda ts: tuple(map(int, ts.split("."))))


def test_connections_are_kept_alive(standin: SlackStandin) -> None:
    host, port = standin.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Authorization": f"Bearer {standin.bot_token}"}
    try:
        connection.request("POST", "/api/auth.test", headers=headers)
        first = connection.getresponse()
        first.read()
        assert first.getheader("Content-Length") is not None
        assert not first.will_close
        socket_used = connection.sock
        connection.request("POST", "/api/auth.test", headers=headers)
        second = connection.getresponse()
        assert json.loads(second.read())["ok"] is True
        assert connection.sock is socket_used
    finally:
        connection.close()


# ----------------------------------------------------------------------------- lifecycle


def test_stop_is_idempotent_and_frees_the_port() -> None:
    standin = SlackStandin().start()
    url = standin.api_url
    standin.stop()
    standin.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{url}auth.test", timeout=2)


def test_entry_point_prints_the_api_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.slack_standin", "--port", "0", "--token", "xoxb-dev"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    watchdog = threading.Timer(10, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        api_url = process.stdout.readline().strip()
        assert re.match(r"^http://127\.0\.0\.1:\d+/api/$", api_url)
        assert WebClient(token="xoxb-dev", base_url=api_url).auth_test()["user_id"] == "UBOT"
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=5)
