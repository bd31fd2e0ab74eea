"""A signed click counts only for the item of the message it was made on (the channel message,
or the private card `/hitl next` showed to that person), only if that item is open to people,
and only for someone allowed on its queue. A button value naming anything else stores nothing
and changes no message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from bot.review.click_item import NOT_OPEN, NOT_SHOWN, NOT_THIS_MESSAGE
from bot.slack_standin.clicks import find_action
from storage.tables import Review, ReviewMessage
from tests.bot.slack.live_app import LiveApp, live_app
from tests.scenarios.harness import action_id, vote_button, wait_until

CHANNEL, OTHER_CHANNEL, ELSEWHERE = "C0REVIEW", "C0OTHER", "C0ELSEWHERE"
REVIEWERS = ["U0ALICE", "U0BOB"]
QUEUES = {
    "fraud": {"review_below": 1.0, "audit_rate": 0.0, "reviewers": REVIEWERS},
    # everything automatic: nothing of this queue is open to people
    "other": {"channel": OTHER_CHANNEL, "review_below": 0.0, "audit_rate": 0.0},
}


@pytest.fixture
def app(database_url: str) -> Iterator[LiveApp]:
    with live_app(database_url, queues=QUEUES) as app:
        yield app


def votes(app: LiveApp) -> list[tuple[int, str, str]]:
    with app.ctx.sessions.begin() as session:
        return [
            (r.item_id, r.user_id, r.label or "")
            for r in session.scalars(select(Review).where(Review.action == "vote"))
        ]


def refusal(app: LiveApp, count: int = 1) -> str:
    return str(app.standin.wait_for_calls("chat.postEphemeral", count)[count - 1].params["text"])


def two_posted_items(app: LiveApp) -> tuple[tuple[int, dict], tuple[int, dict]]:
    a, b = app.ingest("fraud", 2)
    app.deliver()
    return (
        (app.item_pk("fraud", a), app.message_of(CHANNEL, a)),
        (app.item_pk("fraud", b), app.message_of(CHANNEL, b)),
    )


def test_a_value_naming_another_item_of_the_queue_counts_for_nothing(app):
    (a_pk, a_message), (b_pk, b_message) = two_posted_items(app)
    response = app.click(
        user="U0ALICE",
        channel=CHANNEL,
        message=a_message,
        predicate=vote_button(1),
        value=f"{b_pk}:1",
    )
    assert response.status_code == 200
    assert refusal(app) == NOT_THIS_MESSAGE
    assert votes(app) == []
    assert app.standin.calls_to("chat.update") == []  # A's message was not overwritten
    # the control: the genuine button of B's own message counts, for B
    app.click(user="U0ALICE", channel=CHANNEL, message=b_message, predicate=vote_button(1))
    wait_until(lambda: votes(app), what="the genuine vote")
    assert votes(app) == [(b_pk, "U0ALICE", "fraud")]


def test_a_value_naming_an_automatic_item_of_another_queue_counts_for_nothing(app):
    (a_pk, a_message), _ = two_posted_items(app)
    [c] = app.ingest("other", 1, prefix="auto")
    c_pk = app.item_pk("other", c)
    app.click(
        user="U0ALICE",
        channel=CHANNEL,
        message=a_message,
        predicate=vote_button(0),
        value=f"{c_pk}:0",
    )
    assert refusal(app) == NOT_OPEN
    assert votes(app) == []


@pytest.mark.parametrize("value", ["x", "99999:0", "{a}:7", "{a}", ":1", "-1:0"])
def test_a_value_that_is_not_one_of_the_cards_counts_for_nothing(app, value):
    (a_pk, a_message), _ = two_posted_items(app)
    response = app.click(
        user="U0ALICE",
        channel=CHANNEL,
        message=a_message,
        predicate=vote_button(1),
        value=value.format(a=a_pk),
    )
    assert response.status_code == 200
    assert refusal(app) == NOT_THIS_MESSAGE
    assert votes(app) == []


def test_someone_not_allowed_on_the_queue_counts_for_nothing(app):
    (_, a_message), _ = two_posted_items(app)
    app.click(user="U0MALLORY", channel=CHANNEL, message=a_message, predicate=vote_button(1))
    assert "not a reviewer" in refusal(app)
    assert votes(app) == []


def test_an_undo_or_note_naming_another_item_counts_for_nothing(app):
    (a_pk, a_message), (b_pk, b_message) = two_posted_items(app)
    app.click(user="U0BOB", channel=CHANNEL, message=b_message, predicate=vote_button(1))
    wait_until(lambda: votes(app), what="Bob's vote on B")
    [update_b] = app.standin.wait_for_calls("chat.update", 1)
    undo = next(
        element
        for block in update_b.params["blocks"]
        for element in block.get("elements") or []
        if element.get("action_id") == "hitl_undo"
    )
    # B's Undo button, as if it were on A's message
    forged = {
        **a_message,
        "blocks": [*a_message["blocks"], {"type": "actions", "elements": [undo]}],
    }
    app.click(user="U0BOB", channel=CHANNEL, message=forged, predicate=action_id("hitl_undo"))
    assert refusal(app) == NOT_THIS_MESSAGE
    # A's Add note button naming B
    app.click(
        user="U0BOB",
        channel=CHANNEL,
        message=a_message,
        predicate=action_id("hitl_note"),
        value=str(b_pk),
    )
    assert refusal(app, 2) == NOT_THIS_MESSAGE
    assert app.standin.calls_to("views.open") == []
    assert votes(app) == [(b_pk, "U0BOB", "fraud")]  # not undone
    assert len(app.standin.calls_to("chat.update")) == 1


def test_a_private_card_counts_only_for_the_item_it_showed_to_that_person(app):
    (a_pk, _), (b_pk, _) = two_posted_items(app)
    app.command(text="next fraud", user="U0ALICE", channel=ELSEWHERE, key="next")
    [card] = wait_until(lambda: app.responses("next"), what="the private card")
    blocks = card.params["blocks"]
    shown = int(find_action({"blocks": blocks}, action_id("hitl_note"))["value"])
    other = b_pk if shown == a_pk else a_pk

    app.click_private(
        user="U0ALICE",
        channel=ELSEWHERE,
        blocks=blocks,
        predicate=vote_button(1),
        key="forged",
        value=f"{other}:1",
    )
    [told] = wait_until(lambda: app.responses("forged"), what="the refusal")
    assert told.params["text"] == NOT_SHOWN
    # Bob was never shown A: Alice's card, clicked as Bob, does not count either.
    app.click_private(
        user="U0BOB", channel=ELSEWHERE, blocks=blocks, predicate=vote_button(1), key="bob"
    )
    [told] = wait_until(lambda: app.responses("bob"), what="Bob's refusal")
    assert told.params["text"] == NOT_SHOWN
    assert votes(app) == []

    app.click_private(
        user="U0ALICE", channel=ELSEWHERE, blocks=blocks, predicate=vote_button(1), key="real"
    )
    wait_until(lambda: votes(app), what="Alice's vote")
    assert votes(app) == [(shown, "U0ALICE", "fraud")]


def test_a_click_before_the_ts_is_recorded_counts_for_the_message_slack_holds(app):
    """The deliverer records a message's ts just after posting it; a click may come first.
    Slack's copy of the clicked message (its metadata) then says which item it is."""
    (a_pk, a_message), (b_pk, _) = two_posted_items(app)
    with app.ctx.sessions.begin() as session:
        session.execute(update(ReviewMessage).values(ts=None, state="sending"))
    app.click(
        user="U0ALICE",
        channel=CHANNEL,
        message=a_message,
        predicate=vote_button(1),
        value=f"{b_pk}:1",
    )
    assert refusal(app) == NOT_THIS_MESSAGE
    app.click(user="U0ALICE", channel=CHANNEL, message=a_message, predicate=vote_button(1))
    wait_until(lambda: votes(app), what="the vote on A")
    assert votes(app) == [(a_pk, "U0ALICE", "fraud")]
    assert app.standin.calls_to("conversations.history")  # asked Slack, which knows
