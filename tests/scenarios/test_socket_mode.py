"""`hitl serve --socket-mode` end to end: the real app opens a WebSocket to the stand-in, as it
would to Slack, and answers the envelopes sent there; the /v1 API stays on PORT."""

from __future__ import annotations

import json

from bot.slack_standin.clicks import (
    block_actions_payload,
    event_callback,
    find_action,
    slash_command_payload,
)
from tests.factories import items_for
from tests.scenarios.conftest import CHANNEL
from tests.scenarios.harness import vote_button

ALWAYS_REVIEW = {"review_below": 1.0}


def test_socket_mode_app_answers_clicks_commands_and_app_home(start_serve, standin):
    serve = start_serve(socket_mode=True, fraud=ALWAYS_REVIEW)
    [opened] = standin.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {standin.app_token}"
    assert opened.response["url"].startswith("ws://127.0.0.1:")
    [hello] = standin.calls_to("socket_mode.hello")
    assert hello.params["connection_info"] == {"app_id": standin.app_id}

    # An item through the /v1 API, still served on PORT, is posted for review.
    item = items_for(1)[0]
    response = serve.post_items("fraud", [item])
    assert response.status_code == 200
    [answer] = response.json()["items"]
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    message = standin.message(CHANNEL, post.response["ts"])

    # A click arrives in an `interactive` envelope: acked, stored, the message updated.
    wrong = 1 - ["legit", "fraud"].index(answer["label"])
    action = find_action(message, vote_button(wrong))
    click = standin.socket_send(
        "interactive",
        block_actions_payload(user_id="U0ALICE", channel=CHANNEL, message=message, action=action),
    )
    assert standin.wait_for_ack(click) == {"envelope_id": click}
    [update] = standin.wait_for_calls("chat.update", 1)
    assert update.params["ts"] == post.response["ts"]
    assert "<@U0ALICE>" in json.dumps(update.params["blocks"])
    stored = serve.get_item("fraud", item["id"])
    assert stored["resolved_label"] == ["legit", "fraud"][wrong]
    assert [(r["user"], r["action"]) for r in stored["reviews"]] == [("U0ALICE", "vote")]

    # `/hitl help` arrives in a `slash_commands` envelope: acked at once, answered through the
    # command's response_url.
    command = standin.socket_send(
        "slash_commands",
        slash_command_payload(
            command="/hitl",
            text="help",
            user_id="U0ALICE",
            channel_id="C0ELSEWHERE",
            response_url=standin.response_url("help"),
        ),
    )
    assert standin.wait_for_ack(command) == {"envelope_id": command}
    [usage] = standin.wait_for_calls("response_url", 1)
    assert usage.path.endswith("/help") and usage.response == {"status": 200, "text": "ok"}
    assert "/hitl next" in json.dumps(usage.params)

    # App Home opened arrives in an `events_api` envelope: acked, the view published.
    home = standin.socket_send(
        "events_api",
        event_callback(
            {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0HOME", "tab": "home"}
        ),
    )
    assert standin.wait_for_ack(home) == {"envelope_id": home}
    [publish] = standin.wait_for_calls("views.publish", 1)
    assert publish.params["user_id"] == "U0ALICE" and publish.response["ok"]
    assert publish.params["view"]["type"] == "home"

    sent = {e.params["envelope_id"]: e.params for e in standin.calls_to("socket_mode.envelope")}
    accepts = [sent[e]["accepts_response_payload"] for e in (click, command, home)]
    assert accepts == [True, True, False]  # an event's ack carries no answer
    acks = standin.calls_to("socket_mode.ack")
    assert sorted(a.params["envelope_id"] for a in acks) == sorted([click, command, home])
    assert all(a.response == {"ok": True} for a in acks)
    assert standin.calls_to("socket_mode.invalid") == []
