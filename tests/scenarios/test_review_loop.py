"""The whole loop over HTTP: item in → scored → posted → signed click → stored → updated."""

from __future__ import annotations

import json
import threading
import time

from sqlalchemy import func, select

from bot.slack_standin.clicks import block_actions_payload, find_action, interactive_body, sign
from storage.tables import Review
from tests.factories import items_for
from tests.scenarios.conftest import CHANNEL
from tests.scenarios.harness import SIGNING_SECRET, action_id, vote_button, wait_until

ALWAYS_REVIEW = {"review_below": 1.0}  # every prediction (all under 1.0 here) goes to people


def count_reviews(sessions) -> int:
    with sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(Review))


def test_item_goes_to_slack_and_the_answer_is_stored_and_shown(start_serve, standin, sessions):
    serve = start_serve(fraud=ALWAYS_REVIEW)
    item = items_for(1)[0]
    item["context"] = {"merchant": "<!channel> ACME & Co", "customer": "<@U0VIP>"}
    response = serve.post_items("fraud", [item])
    assert response.status_code == 200
    [answer] = response.json()["items"]
    assert answer["route"] == "review" and answer["model_version"] == "fraud-v1"
    assert 0 <= answer["confidence"] <= 1

    [post] = standin.wait_for_calls("chat.postMessage", 1)
    assert post.params["channel"] == CHANNEL
    assert post.params["metadata"] == {
        "event_type": "hitl_review_item",
        "event_payload": {"queue": "fraud", "item_id": item["id"]},
    }
    posted = json.dumps(post.params["blocks"])
    assert "&lt;!channel&gt; ACME &amp; Co" in posted and "<!channel>" not in posted
    assert "<@U0VIP>" not in posted
    assert "link_names" not in post.params and post.params.get("parse") != "full"

    message = standin.message(CHANNEL, post.response["ts"])
    wrong = 1 - ["legit", "fraud"].index(answer["label"])
    assert (
        serve.click(
            user="U0ANALYST", channel=CHANNEL, message=message, predicate=vote_button(wrong)
        ).status_code
        == 200
    )

    [update] = standin.wait_for_calls("chat.update", 1)
    assert update.params["ts"] == post.response["ts"]
    shown = json.dumps(update.params["blocks"])
    assert "<@U0ANALYST>" in shown and "hitl_undo" in shown
    stored = serve.get_item("fraud", item["id"])
    assert stored["resolved_label"] == ["legit", "fraud"][wrong]
    assert [(r["user"], r["action"]) for r in stored["reviews"]] == [("U0ANALYST", "vote")]
    # No reviewers listed: the click on the channel's own message shows the clicker can read the
    # channel, so no membership call is made (U0ANALYST was never made a member).
    assert standin.calls_to("conversations.members") == []

    labels = serve.http.get(
        "/v1/queues/fraud/labels", headers={"Authorization": "Bearer scenario-api-token"}
    )
    assert labels.headers["content-type"].startswith("application/x-ndjson")
    [row] = [json.loads(line) for line in labels.text.splitlines()]
    assert row["id"] == item["id"] and row["predicted"] == answer["label"]
    assert row["votes"][0]["user"] == "U0ANALYST"


def test_bad_signature_and_stale_timestamp_are_refused(start_serve, standin, sessions):
    serve = start_serve(fraud=ALWAYS_REVIEW)
    serve.post_items("fraud", items_for(1))
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    message = standin.message(CHANNEL, post.response["ts"])
    action = find_action(message, vote_button(0))
    body = interactive_body(
        block_actions_payload(user_id="U0ALICE", channel=CHANNEL, message=message, action=action)
    )
    forged = sign(body, signing_secret="not-the-secret")
    stale = sign(body, signing_secret=SIGNING_SECRET, timestamp=int(time.time()) - 6 * 60)
    missing: dict[str, str] = {}
    for headers in (forged, stale, missing):
        response = serve.send(
            body, content_type="application/x-www-form-urlencoded", headers=headers
        )
        assert response.status_code == 401
    time.sleep(0.3)
    assert count_reviews(sessions) == 0
    assert standin.calls_to("chat.update") == []


def test_user_outside_reviewers_gets_an_ephemeral_and_nothing_is_stored(
    start_serve, standin, sessions
):
    standin.add_usergroup("S0ANALYSTS", ["U0INGROUP"])
    serve = start_serve(fraud={**ALWAYS_REVIEW, "reviewers": ["U0LISTED", "S0ANALYSTS"]})
    serve.post_items("fraud", items_for(2))
    posts = standin.wait_for_calls("chat.postMessage", 2)
    first = standin.message(CHANNEL, posts[0].response["ts"])
    serve.click(user="U0STRANGER", channel=CHANNEL, message=first, predicate=vote_button(0))
    [ephemeral] = standin.wait_for_calls("chat.postEphemeral", 1)
    assert ephemeral.params["user"] == "U0STRANGER"
    assert count_reviews(sessions) == 0

    serve.click(user="U0INGROUP", channel=CHANNEL, message=first, predicate=vote_button(0))
    second = standin.message(CHANNEL, posts[1].response["ts"])
    serve.click(user="U0LISTED", channel=CHANNEL, message=second, predicate=vote_button(1))
    standin.wait_for_calls("chat.update", 2)
    assert count_reviews(sessions) == 2
    assert len(standin.calls_to("usergroups.users.list")) >= 1


def test_double_click_retry_and_late_click_record_one_vote(start_serve, standin, sessions):
    serve = start_serve(fraud=ALWAYS_REVIEW)
    serve.post_items("fraud", items_for(1))
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    message = standin.message(CHANNEL, post.response["ts"])
    for action_ts in ("1700000000.1", "1700000000.1", "1700000000.2"):  # retry, then double
        serve.click(
            user="U0ALICE",
            channel=CHANNEL,
            message=message,
            predicate=vote_button(0),
            action_ts=action_ts,
        )
    # Clicks are acknowledged at once and handled in threads, so their order is not the HTTP
    # order: Bob clicks once Alice's answer is in, as the "late click" this test is about.
    wait_until(lambda: count_reviews(sessions) == 1, what="Alice's vote")
    serve.click(user="U0BOB", channel=CHANNEL, message=message, predicate=vote_button(1))
    [ephemeral] = standin.wait_for_calls("chat.postEphemeral", 1)
    assert ephemeral.params["user"] == "U0BOB" and "U0ALICE" in ephemeral.params["text"]
    assert count_reviews(sessions) == 1


def test_concurrent_clicks_record_exactly_votes_required(start_serve, standin, sessions):
    serve = start_serve(fraud={**ALWAYS_REVIEW, "votes_required": 2})
    serve.post_items("fraud", items_for(1))
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    message = standin.message(CHANNEL, post.response["ts"])
    users = [f"U0CLICK{i}" for i in range(6)]
    barrier = threading.Barrier(len(users))

    def click(user: str) -> None:
        barrier.wait()
        serve.click(user=user, channel=CHANNEL, message=message, predicate=vote_button(1))

    threads = [threading.Thread(target=click, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: len(standin.calls_to("chat.postEphemeral")) == 4, what="4 ephemerals")
    assert count_reviews(sessions) == 2
    stored = serve.get_item("fraud", post.params["metadata"]["event_payload"]["item_id"])
    assert stored["resolved_label"] == "fraud"


def test_undo_reopens_the_item_and_keeps_history(start_serve, standin, sessions):
    serve = start_serve(fraud=ALWAYS_REVIEW)
    item_id = items_for(1)[0]["id"]
    serve.post_items("fraud", items_for(1))
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    ts = post.response["ts"]
    serve.click(
        user="U0ALICE",
        channel=CHANNEL,
        message=standin.message(CHANNEL, ts),
        predicate=vote_button(1),
    )
    standin.wait_for_calls("chat.update", 1)
    answered = standin.message(CHANNEL, ts)
    serve.click(user="U0BOB", channel=CHANNEL, message=answered, predicate=action_id("hitl_undo"))
    wait_until(lambda: standin.calls_to("chat.postEphemeral"), what="not-yours ephemeral")
    serve.click(user="U0ALICE", channel=CHANNEL, message=answered, predicate=action_id("hitl_undo"))
    standin.wait_for_calls("chat.update", 2)
    reopened = standin.message(CHANNEL, ts)
    assert find_action(reopened, vote_button(0))  # buttons are back
    stored = serve.get_item("fraud", item_id)
    assert stored["resolved_label"] is None
    assert [r["action"] for r in stored["reviews"]] == ["vote", "undo"]
    serve.click(user="U0ALICE", channel=CHANNEL, message=reopened, predicate=vote_button(0))
    standin.wait_for_calls("chat.update", 3)
    assert serve.get_item("fraud", item_id)["resolved_label"] == "legit"


def test_max_open_holds_the_rest_back_until_answers_come(start_serve, standin, sessions):
    serve = start_serve(fraud={**ALWAYS_REVIEW, "max_open": 3})
    answers = serve.post_items("fraud", items_for(8)).json()["items"]
    posts = standin.wait_for_calls("chat.postMessage", 3)
    time.sleep(1.0)  # the deliverer polls twice a second: give it the chance to overstep
    assert len(standin.calls_to("chat.postMessage")) == 3
    confidence = {a["id"]: a["confidence"] for a in answers}
    posted = [p.params["metadata"]["event_payload"]["item_id"] for p in posts]
    waiting = [i for i in confidence if i not in posted]
    assert max(confidence[i] for i in posted) <= min(confidence[i] for i in waiting)
    serve.click(
        user="U0ALICE",
        channel=CHANNEL,
        message=standin.message(CHANNEL, posts[0].response["ts"]),
        predicate=vote_button(0),
    )
    standin.wait_for_calls("chat.postMessage", 4)
    time.sleep(0.6)
    assert len(standin.calls_to("chat.postMessage")) == 4


def test_rate_limit_is_honoured_and_server_errors_retried(start_serve, standin, sessions):
    standin.fail_next("chat.postMessage", status=429, retry_after=1)
    standin.fail_next("chat.postMessage", status=500)
    serve = start_serve(fraud=ALWAYS_REVIEW)
    serve.post_items("fraud", items_for(1))
    wait_until(
        lambda: any(c.response.get("ok") for c in standin.calls_to("chat.postMessage")),
        timeout=15,
        what="a successful post",
    )
    calls = standin.calls_to("chat.postMessage")
    statuses = [c.response.get("status", 200) for c in calls]
    assert statuses[:2] == [429, 500]
    assert calls[1].at - calls[0].at >= 1.0  # waited the Retry-After it was given
    # The deliverer records the ts a moment after Slack answered.
    item_id = items_for(1)[0]["id"]
    wait_until(
        lambda: serve.get_item("fraud", item_id)["message"]["state"] == "posted",
        what="the post recorded",
    )
    assert serve.get_item("fraud", item_id)["message"]["ts"]


def test_sigterm_stops_serve_cleanly_after_its_deliverer(start_serve, standin):
    serve = start_serve(fraud=ALWAYS_REVIEW)
    serve.post_items("fraud", items_for(3))
    standin.wait_for_calls("chat.postMessage", 3)
    serve.stop()  # SIGTERM, as a platform stopping the web process sends it
    assert serve.process.returncode == 0
    assert "hitl serve stopped" in serve.log_path.read_text()
