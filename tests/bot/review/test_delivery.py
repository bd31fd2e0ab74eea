"""The deliverer against the Slack stand-in and a real database: every review message is posted
exactly once, whatever Slack answers (late, not at all, 5xx after posting) and after a crash."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.context import AppContext
from bot.review.delivery import Deliverer
from bot.review.ingest import ingest, parse_batch
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from storage.tables import ReviewMessage, utcnow
from tests.factories import items_for, make_config, seed_model
from tests.scenarios.harness import wait_until

CHANNEL = "C0REVIEW"
CLIENT_TIMEOUT = 0.5  # seconds; the stand-in answers "late" after twice that


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        yield server


@pytest.fixture
def ctx(database_url: str, standin: SlackStandin) -> Iterator[AppContext]:
    ctx = build_context(
        Settings(database_url=database_url),
        config=make_config(fraud={"review_below": 1.0, "audit_rate": 0.0}),
        token=standin.bot_token,
        api_url=standin.api_url,
        seed=0,
    )
    # An impatient client, so "Slack answered after the client gave up" takes a second.
    ctx.client = WebClient(
        token=standin.bot_token, base_url=standin.api_url, timeout=CLIENT_TIMEOUT
    )
    seed_model(ctx.sessions)
    yield ctx
    ctx.engine.dispose()


def ingest_items(ctx: AppContext, n: int) -> list[str]:
    queue = ctx.config.queue("fraud")
    items = parse_batch({"items": items_for(n)}, queue=queue)
    return [a.id for a in ingest(ctx, queue=queue, items=items)]


def stored(ctx: AppContext) -> list[ReviewMessage]:
    with ctx.sessions.begin() as session:
        return list(session.scalars(select(ReviewMessage).order_by(ReviewMessage.id)))


def posted_item_ids(standin: SlackStandin) -> list[str]:
    """The item id in the metadata of every message in the channel, one per message."""
    return sorted(
        m["metadata"]["event_payload"]["item_id"]
        for m in standin.messages(CHANNEL)
        if m.get("metadata")
    )


def deliver_until_posted(ctx: AppContext, n: int, timeout: float = 20.0) -> None:
    deliverer = Deliverer(ctx)
    stop = threading.Event()
    thread = threading.Thread(
        target=deliverer.run_forever, args=(stop,), kwargs={"idle_poll": 0.05}
    )
    thread.start()
    try:
        wait_until(
            lambda: sum(m.state == "posted" for m in stored(ctx)) == n,
            timeout=timeout,
            what=f"{n} messages posted",
        )
    finally:
        stop.set()
        thread.join(timeout=10)


FAILURES: dict[str, dict[str, Any]] = {
    # The case: Slack posts it, but answers after the client gave up.
    "late-answer-posted": {"status": 200, "delay": 2 * CLIENT_TIMEOUT},
    "timeout-not-posted": {"status": 503, "delay": 2 * CLIENT_TIMEOUT},
    "500-after-posting": {"status": 500, "carry_out": True},
    "500-not-posted": {"status": 500},
    "429": {"status": 429, "retry_after": 1},
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_each_message_is_posted_exactly_once_whatever_slack_answers(ctx, standin, failure):
    ids = ingest_items(ctx, 3)
    standin.fail_next("chat.postMessage", times=2, **FAILURES[failure])
    deliver_until_posted(ctx, 3)
    assert posted_item_ids(standin) == sorted(ids)
    in_channel = {
        m["metadata"]["event_payload"]["item_id"]: m["ts"] for m in standin.messages(CHANNEL)
    }
    with ctx.sessions.begin() as session:
        rows = session.scalars(select(ReviewMessage)).all()
        assert {r.item.external_id: r.ts for r in rows} == in_channel
        assert all(r.unclear_since is None for r in rows)


def test_a_channel_that_cannot_be_read_holds_the_message_back_until_it_can(ctx, standin):
    [item_id] = ingest_items(ctx, 1)
    standin.fail_next("chat.postMessage", status=200, delay=2 * CLIENT_TIMEOUT)
    standin.fail_next("conversations.history", status=500, times=2)
    deliver_until_posted(ctx, 1)
    assert posted_item_ids(standin) == [item_id]
    # The deliverer looked before posting again: never a second chat.postMessage.
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert len(standin.calls_to("conversations.history")) >= 3


def test_a_deliverer_that_died_mid_post_is_finished_without_a_second_post(ctx, standin):
    [item_id] = ingest_items(ctx, 1)
    # What a crash leaves: the row claimed long ago, the message in the channel, no ts.
    with ctx.sessions.begin() as session:
        row = session.scalars(select(ReviewMessage)).one()
        row.state, row.attempts = "sending", 1
        row.claimed_at = utcnow() - timedelta(minutes=5)
        metadata = {
            "event_type": "hitl_review_item",
            "event_payload": {"queue": "fraud", "item_id": item_id},
        }
    ts = standin.add_message(CHANNEL, "card", user="UBOT", metadata=metadata)
    deliverer = Deliverer(ctx)
    deliverer.recover_stale_claims()
    deliverer.run_once()
    [row] = stored(ctx)
    assert (row.state, row.ts) == ("posted", ts)
    assert standin.calls_to("chat.postMessage") == []


def test_a_claim_another_deliverer_recovered_is_not_posted_by_both(ctx, standin):
    """A slow deliverer (one thread, Slack answering each post in 0.3 s) still holds claims it
    has not reached when a second deliverer takes them as stale: each item is posted once."""
    ids = ingest_items(ctx, 8)
    standin.fail_next("chat.postMessage", status=200, delay=0.3, times=8)
    slow = Deliverer(ctx, threads=1, batch=8)
    other = Deliverer(ctx, stale_after=timedelta(seconds=1))
    thread = threading.Thread(target=slow.run_once)
    thread.start()
    try:
        time.sleep(1.6)  # the slow one is at its sixth post at most; its last claims are old
        assert other.recover_stale_claims() >= 2
        other.run_once()
    finally:
        thread.join(timeout=20)
    deliver_until_posted(ctx, 8)
    assert posted_item_ids(standin) == sorted(ids)
