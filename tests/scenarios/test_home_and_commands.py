"""App Home and `/hitl` against a real `hitl serve`: signed events and commands in, recorded
Slack calls (views.publish, response_url posts, chat.update) out."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from sqlalchemy import func, select, text

from storage.pins import pin
from storage.tables import Item, ModelVersion, ReviewMessage
from tests.factories import items_for
from tests.scenarios.conftest import CHANNEL
from tests.scenarios.harness import action_id, vote_button, wait_until

ALWAYS_REVIEW = {"review_below": 1.0}
ELSEWHERE = "C0ELSEWHERE"  # where the commands are typed: not the review channel


def dumps(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def posted(serve, standin, sessions, n: int) -> list[Any]:
    """Ingest ``n`` items and wait until all are posted and recorded as posted."""
    serve.post_items("fraud", items_for(n))
    posts = standin.wait_for_calls("chat.postMessage", n)

    def recorded() -> bool:
        with sessions.begin() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(ReviewMessage)
                    .where(ReviewMessage.state == "posted", ReviewMessage.ts.is_not(None))
                )
                == n
            )

    wait_until(recorded, what=f"{n} messages recorded as posted")
    return posts


def oldest_first(sessions) -> list[tuple[str, str]]:
    """(item id, ts) of the posted messages, oldest post first, as the outbox recorded them."""
    with sessions.begin() as session:
        rows = session.execute(
            select(Item.external_id, ReviewMessage.ts)
            .join(Item, Item.id == ReviewMessage.item_id)
            .order_by(ReviewMessage.posted_at, ReviewMessage.id)
        ).all()
    return [(str(item_id), str(ts)) for item_id, ts in rows]


def open_home(serve, standin, user: str, count: int) -> dict[str, Any]:
    """Open App Home as ``user``; the view published for them (the ``count``-th publish)."""
    response = serve.event(
        {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
    )
    assert response.status_code == 200
    call = standin.wait_for_calls("views.publish", count)[count - 1]
    assert call.params["user_id"] == user and call.response["ok"], call.response
    return dict(call.params["view"])


def command(serve, standin, text: str, *, user: str, key: str, answers: int = 1) -> list[Any]:
    """Run `/hitl text` as ``user``; the first ``answers`` posts to its response_url."""
    response = serve.command(
        text=text, user=user, channel=ELSEWHERE, response_url=standin.response_url(key)
    )
    assert response.status_code == 200 and response.text == ""
    calls = wait_until(
        lambda: len(sent := responses(standin, key)) >= answers and sent,
        what=f"{answers} answer(s) to /hitl {text}",
    )
    return calls


def click_card(serve, standin, blocks: Any, predicate: Any, *, key: str, user: str = "U0ALICE"):
    """Click a button of a `/hitl next` card (shown in ELSEWHERE); its response_url is ``key``."""
    return serve.click_ephemeral(
        user=user,
        channel=ELSEWHERE,
        blocks=blocks,
        predicate=predicate,
        response_url=standin.response_url(key),
    )


def responses(standin, key: str) -> list[Any]:
    return [c for c in standin.calls_to("response_url") if c.path.endswith(f"/{key}")]


def test_app_home_shows_each_person_what_waits_for_them(start_serve, standin, sessions):
    standin.add_usergroup("S0TEAM", ["U0BOB"])
    serve = start_serve(fraud={**ALWAYS_REVIEW, "reviewers": ["U0ALICE", "S0TEAM"]})
    posts = posted(serve, standin, sessions, 2)
    first, second = (p.response["ts"] for p in posts)
    message = standin.message(CHANNEL, first)
    serve.click(user="U0BOB", channel=CHANNEL, message=message, predicate=vote_button(0))
    standin.wait_for_calls("chat.update", 1)

    alice = dumps(open_home(serve, standin, "U0ALICE", 1)["blocks"])
    # The first item was answered by Bob: resolved, so it waits for nobody.
    assert f"p{second.replace('.', '')}" in alice and f"p{first.replace('.', '')}" not in alice
    assert "*Waiting for you* · 1" in alice
    assert "`fraud-v1`" in alice and "Automatic decisions right: not measured yet" in alice

    bob = dumps(open_home(serve, standin, "U0BOB", 2)["blocks"])  # a reviewer by group
    assert f"p{second.replace('.', '')}" in bob
    assert "last 7 days* · 1: fraud 1" in bob

    carol = dumps(open_home(serve, standin, "U0CAROL", 3)["blocks"])
    assert "You are not a reviewer of any queue." in carol
    assert "you are not one of its reviewers" in carol and "`fraud-v1`" in carol


def test_hitl_stats_names_the_queue_and_bad_input_gets_the_usage(start_serve, standin, sessions):
    serve = start_serve(fraud=ALWAYS_REVIEW, chatbot={})
    [one] = command(serve, standin, "stats fraud", user="U0ALICE", key="stats-one")
    assert one.params["text"].startswith("*fraud* · model `fraud-v1`")
    assert "*chatbot*" not in one.params["text"]
    assert "not measured yet" in one.params["text"]
    [every] = command(serve, standin, "stats", user="U0ALICE", key="stats-all")
    assert "*fraud*" in every.params["text"] and "*chatbot*" in every.params["text"]

    for typed, problem in [
        ("frobnicate", "Unknown subcommand `frobnicate`."),
        ("stats nope", "Unknown queue `nope`."),
        ("retrain", "`retrain` needs the queue to retrain."),
        ("", None),
        ("help", None),
    ]:
        key = "usage-" + (typed.replace(" ", "-") or "empty")
        [answer] = command(serve, standin, typed, user="U0ALICE", key=key)
        said = answer.params["text"]
        assert "`/hitl next [queue]`" in said and "Queues: `fraud`, `chatbot`" in said
        assert problem is None or said.startswith(problem)
    assert all(c.response["status"] == 200 for c in standin.calls_to("response_url"))


def test_hitl_next_shows_a_card_whose_buttons_vote_like_the_channel_ones(
    start_serve, standin, sessions
):
    serve = start_serve(fraud={**ALWAYS_REVIEW, "reviewers": ["U0ALICE"]})
    posted(serve, standin, sessions, 2)
    (oldest_id, oldest), (newest_id, newest) = oldest_first(sessions)
    [refused] = command(serve, standin, "next", user="U0STRANGER", key="next-stranger")
    assert refused.params["text"] == "You are not a reviewer of any queue."

    [card] = command(serve, standin, "next fraud", user="U0ALICE", key="next")
    assert card.response["status"] == 200  # Slack's limits hold for the card
    shown = dumps(card.params["blocks"])
    assert f"p{oldest.replace('.', '')}" in shown and "1 of 2 waiting for you" in shown
    assert card.params["response_type"] == "ephemeral"

    response = click_card(serve, standin, card.params["blocks"], vote_button(1), key="click")
    assert response.status_code == 200
    # The channel message is updated in place, found through the stored channel and ts ...
    [update] = standin.wait_for_calls("chat.update", 1)
    assert (update.params["channel"], update.params["ts"]) == (CHANNEL, oldest)
    assert "<@U0ALICE>" in dumps(update.params["blocks"])
    # ... and the ephemeral card is replaced through the click's response_url.
    [replaced] = wait_until(lambda: responses(standin, "click"), what="ephemeral replaced")
    assert replaced.params["replace_original"] is True and replaced.response["status"] == 200
    assert "hitl_undo" in dumps(replaced.params["blocks"])
    item = serve.get_item("fraud", oldest_id)
    assert item["resolved_label"] == "fraud"
    assert [(r["user"], r["label"]) for r in item["reviews"]] == [("U0ALICE", "fraud")]

    # Undo on the replaced card works the same way: both copies show the item open again.
    click_card(serve, standin, replaced.params["blocks"], action_id("hitl_undo"), key="undo")
    reopened = standin.wait_for_calls("chat.update", 2)[1]
    assert (reopened.params["channel"], reopened.params["ts"]) == (CHANNEL, oldest)
    [card_again] = wait_until(lambda: responses(standin, "undo"), what="card reopened")
    assert "hitl_vote" in dumps(card_again.params["blocks"])
    assert serve.get_item("fraud", oldest_id)["resolved_label"] is None
    vote_again = click_card(
        serve, standin, card_again.params["blocks"], vote_button(0), key="again"
    )
    assert vote_again.status_code == 200
    standin.wait_for_calls("chat.update", 3)
    assert serve.get_item("fraud", oldest_id)["resolved_label"] == "legit"

    [following] = command(serve, standin, "next", user="U0ALICE", key="next-2")
    assert f"p{newest.replace('.', '')}" in dumps(following.params["blocks"])
    assert newest_id in dumps(following.params["blocks"])
    assert "the only item waiting for you" in dumps(following.params["blocks"])


def test_without_reviewers_only_members_of_the_channel_get_items_and_may_vote(
    start_serve, standin, sessions
):
    standin.add_member(CHANNEL, "U0ALICE")
    serve = start_serve(fraud=ALWAYS_REVIEW)  # reviewers = []: anyone in the channel
    posted(serve, standin, sessions, 1)
    [(item_id, ts)] = oldest_first(sessions)

    [refused] = command(serve, standin, "next", user="U0STRANGER", key="next-stranger")
    assert refused.params["text"] == "You are not a reviewer of any queue."
    [card] = command(serve, standin, "next fraud", user="U0ALICE", key="next-alice")
    assert f"p{ts.replace('.', '')}" in dumps(card.params["blocks"])
    asked = standin.calls_to("conversations.members")
    assert asked and all(c.params["channel"] == CHANNEL for c in asked)

    # The card's buttons, clicked by someone outside the channel: refused, nothing recorded.
    click_card(
        serve,
        standin,
        card.params["blocks"],
        vote_button(1),
        key="stranger-click",
        user="U0STRANGER",
    )
    [told] = wait_until(lambda: responses(standin, "stranger-click"), what="refusal")
    assert told.params["text"].startswith("You are not a reviewer of *fraud*")
    assert told.params["replace_original"] is False
    assert serve.get_item("fraud", item_id)["reviews"] == []
    assert standin.calls_to("chat.update") == []

    stranger_home = dumps(open_home(serve, standin, "U0STRANGER", 1)["blocks"])
    assert "You are not a reviewer of any queue." in stranger_home
    alice_home = dumps(open_home(serve, standin, "U0ALICE", 2)["blocks"])
    assert f"p{ts.replace('.', '')}" in alice_home and "*Waiting for you* · 1" in alice_home

    click_card(serve, standin, card.params["blocks"], vote_button(1), key="alice-click")
    [update] = standin.wait_for_calls("chat.update", 1)
    assert (update.params["channel"], update.params["ts"]) == (CHANNEL, ts)
    item = serve.get_item("fraud", item_id)
    assert [(r["user"], r["label"]) for r in item["reviews"]] == [("U0ALICE", "fraud")]


def hold_database(session) -> None:
    """Block every writer (SQLite) or every reader of model_versions (PostgreSQL) until the
    transaction ends: a retrain in `hitl serve` cannot finish while it is held."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text("LOCK TABLE model_versions IN ACCESS EXCLUSIVE MODE"))
    else:
        session.execute(text("SELECT 1"))  # every transaction begins IMMEDIATE: the write lock


def test_hitl_retrain_is_for_admins_and_answers_before_the_retrain_ends(
    start_serve, standin, sessions
):
    serve = start_serve(fraud={"admins": ["U0ADMIN"], "review_below": 1.0})
    # An answer since the first model: without one, a retrain makes no candidate.
    serve.post_items("fraud", items_for(1))
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    message = standin.message(CHANNEL, post.response["ts"])
    serve.click(user="U0ALICE", channel=CHANNEL, message=message, predicate=vote_button(0))
    wait_until(lambda: serve.get_item("fraud", "t-0")["resolved_label"], what="the answer")
    [refused] = command(serve, standin, "retrain fraud", user="U0ALICE", key="refused")
    assert refused.params["text"] == "Only the admins of *fraud* may retrain it: <@U0ADMIN>."

    with sessions.begin() as session:
        hold_database(session)
        response = serve.command(
            text="retrain fraud",
            user="U0ADMIN",
            channel=ELSEWHERE,
            response_url=standin.response_url("retrain"),
        )
        acknowledged_at = time.monotonic()
        # Acknowledged although the retrain cannot have finished: the database is held here.
        assert response.status_code == 200
        [started] = wait_until(lambda: responses(standin, "retrain"), what="retrain started")
        assert started.params["text"] == "Retraining *fraud*…"
        [busy] = command(serve, standin, "retrain fraud", user="U0ADMIN", key="busy")
        assert "already being retrained" in busy.params["text"]
        assert len(responses(standin, "retrain")) == 1
    done = wait_until(lambda: responses(standin, "retrain")[1:], what="retrain result", timeout=60)
    assert re.fullmatch(r"\*fraud\*: (promoted fraud-v2|not promoted: .+)", done[0].params["text"])
    assert done[0].at > acknowledged_at
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 2
    announced = standin.wait_for_calls("chat.postMessage", 2)
    assert "fraud-v2" in announced[1].params["text"]
    # Rolled back: `/hitl retrain` says so and makes no candidate.
    with sessions.begin() as session:
        pin(session=session, queue="fraud", version="fraud-v1", by="U0ADMIN")
    command(serve, standin, "retrain fraud", user="U0ADMIN", key="pinned")
    answer = wait_until(lambda: responses(standin, "pinned")[1:], what="the pinned answer")
    assert answer[0].params["text"] == "*fraud*: not promoted: pinned to fraud-v1"
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 2
