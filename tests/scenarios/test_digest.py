"""The weekly digest against the Slack stand-in: run by `hitl clock` on its cron, and by
`hitl digest` (posting, or `--dry-run` printing) as a separate process."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from sqlalchemy import select

from bot.context import AppContext
from bot.digest.send import send_digest
from bot.review.ingest import ingest, parse_batch
from bot.runtime import build_context
from bot.schedule.clock import Clock
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from storage.reviews import record_vote
from storage.tables import ReviewMessage
from tests.factories import config_toml, items_for, make_config, seed_model
from tests.scenarios.harness import run_hitl, wait_until

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIGEST_CHANNEL = "C0DIGEST"
QUEUES: dict[str, dict[str, Any]] = {
    "fraud": {"audit_rate": 0.5, "digest": {"channel": DIGEST_CHANNEL, "cron": "0 9 * * MON"}}
}


@pytest.fixture
def standin() -> Any:
    with SlackStandin() as server:
        server.add_channel("C0REVIEW", "fraud-review")
        server.add_channel(DIGEST_CHANNEL, "fraud-leads")
        server.add_user("U0ALICE", name="alice", real_name="Alice Martin")
        server.add_user("U0LEAD", name="lead")
        yield server


def context(database_url: str, standin: SlackStandin, **queues: dict[str, Any]) -> AppContext:
    return build_context(
        Settings(database_url=database_url),
        config=make_config(**(queues or QUEUES)),
        token=standin.bot_token,
        api_url=standin.api_url,
        seed=0,
    )


def a_week_of_work(ctx: AppContext) -> int:
    """Items scored now; every item shown to people posted an hour ago and answered by Alice
    (right on all but the first). Returns how many she answered."""
    queue = ctx.config.queue("fraud")
    ingest(ctx, queue=queue, items=parse_batch({"items": items_for(60)}, queue=queue))
    with ctx.sessions.begin() as session:
        shown = session.scalars(
            select(ReviewMessage).where(ReviewMessage.state == "waiting").order_by(ReviewMessage.id)
        ).all()
        for message in shown:
            message.state, message.ts = "posted", f"1700000000.{message.id:06d}"
            message.posted_at = datetime.now(UTC) - timedelta(hours=1)
        pks = [(m.item_id, m.item.prediction.label) for m in shown]  # type: ignore[union-attr]
    for n, (pk, predicted) in enumerate(pks):
        other = next(label for label in queue.labels if label != predicted)
        with ctx.sessions.begin() as session:
            record_vote(
                session=session,
                item_pk=pk,
                user_id="U0ALICE",
                label=other if n == 0 else predicted,
                request_key=f"k{pk}",
                votes_required=1,
            )
    return len(pks)


def assert_digest_with_chart(standin: SlackStandin, conversation: str) -> None:
    [post] = [
        c for c in standin.calls_to("chat.postMessage") if c.params["channel"] == conversation
    ]
    assert "fraud" in post.params["text"]
    assert post.params["blocks"] and len(post.params["blocks"]) <= 50
    [url] = standin.calls_to("files.getUploadURLExternal")
    assert url.params["alt_txt"].startswith("Chart of fraud over 12 weeks")  # for screen readers
    file_id = url.response["file_id"]
    png = standin.uploads[file_id]
    assert png.startswith(PNG_SIGNATURE)
    height, width, _ = matplotlib.image.imread(io.BytesIO(png), format="png").shape
    assert width > 300 and height > 200
    [complete] = standin.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == post.response["channel"]
    assert complete.params["thread_ts"] == post.response["ts"]
    assert [f["id"] for f in complete.params["files"]] == [file_id]
    # In the stand-in's channel: the digest, and the chart as a reply in its thread.
    thread = [m for m in standin.messages(post.response["channel"]) if m.get("files")]
    assert [m["thread_ts"] for m in thread] == [post.response["ts"]]


def test_the_clock_posts_the_digest_with_its_chart_in_the_thread(database_url, standin):
    ctx = context(database_url, standin)
    seed_model(ctx.sessions)
    answered = a_week_of_work(ctx)
    assert answered > 5
    clock = Clock(ctx, poll=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=clock.run, args=(stop,))
    thread.start()
    try:
        # The scheduler exists a moment before its jobs are added: wait for the job itself.
        job = wait_until(
            lambda: clock.scheduler and clock.scheduler.get_job("digest:fraud"),
            what="the digest job scheduled",
        )
        assert clock.scheduler is not None
        assert job.next_run_time.weekday() == 0 and job.next_run_time.hour == 9  # Monday 9:00
        clock.scheduler.modify_job("digest:fraud", next_run_time=datetime.now(UTC))
        standin.wait_for_calls("files.completeUploadExternal", 1, timeout=30)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert_digest_with_chart(standin, DIGEST_CHANNEL)
    text = str(standin.calls_to("chat.postMessage")[0].params["blocks"])
    # named through users.info, never mentioned: a weekly digest pings nobody
    assert f"{answered}" in text and "*alice*" in text and "<@" not in text
    assert [c.params["user"] for c in standin.calls_to("users.info")] == ["U0ALICE"]


def test_a_digest_for_users_goes_to_each_as_a_direct_message(database_url, standin):
    ctx = context(database_url, standin, fraud={"digest": {"users": ["U0LEAD"]}})
    seed_model(ctx.sessions)
    sent = send_digest(ctx, ctx.config.queue("fraud"))
    [opened] = standin.calls_to("conversations.open")
    assert opened.params["users"] == "U0LEAD"
    dm = opened.response["channel"]["id"]
    assert [conversation for conversation, _ in sent.posts] == [dm]
    assert_digest_with_chart(standin, dm)


def test_a_rate_limited_digest_waits_and_is_posted_once(database_url, standin):
    ctx = context(database_url, standin)
    seed_model(ctx.sessions)
    standin.fail_next("chat.postMessage", status=429, retry_after=1)
    send_digest(ctx, ctx.config.queue("fraud"))
    posts = standin.calls_to("chat.postMessage")
    assert [p.response.get("ok") for p in posts] == [False, True]
    assert len(standin.messages(DIGEST_CHANNEL)) == 2  # the digest and its chart


def hitl(args: list[str], *, database_url: str, tmp_path: Path, env: dict[str, str]) -> Any:
    config = tmp_path / "hitl.toml"
    config.write_text(config_toml(**QUEUES))
    return run_hitl(*args, database_url=database_url, config_path=config, cwd=tmp_path, env=env)


def test_hitl_digest_dry_run_prints_and_writes_the_chart_posting_nothing(
    database_url, standin, tmp_path
):
    ctx = context(database_url, standin)
    seed_model(ctx.sessions)
    answered = a_week_of_work(ctx)
    env = {"SLACK_BOT_TOKEN": standin.bot_token, "SLACK_API_URL": standin.api_url}
    done = hitl(
        ["digest", "--dry-run", "--chart-dir", "charts"],
        database_url=database_url,
        tmp_path=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "fraud" in done.stdout and str(answered) in done.stdout
    charts = list((tmp_path / "charts").glob("digest-fraud-*.png"))
    assert len(charts) == 1 and charts[0].read_bytes().startswith(PNG_SIGNATURE)
    assert f"chart: {Path('charts') / charts[0].name}" in done.stdout
    assert standin.calls == []


def test_hitl_digest_posts_and_names_the_channel(database_url, standin, tmp_path):
    seed_model(context(database_url, standin).sessions)
    env = {"SLACK_BOT_TOKEN": standin.bot_token, "SLACK_API_URL": standin.api_url}
    done = hitl(
        ["digest", "--queue", "fraud"], database_url=database_url, tmp_path=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"digest of fraud posted to {DIGEST_CHANNEL}"
    assert_digest_with_chart(standin, DIGEST_CHANNEL)


def test_hitl_digest_errors_name_the_problem(database_url, standin, tmp_path):
    unknown = hitl(
        ["digest", "--queue", "nope", "--dry-run"],
        database_url=database_url,
        tmp_path=tmp_path,
        env={},
    )
    assert unknown.returncode == 2 and "unknown queue 'nope'" in unknown.stderr
    no_token = hitl(["digest"], database_url=database_url, tmp_path=tmp_path, env={})
    assert no_token.returncode == 2 and "SLACK_BOT_TOKEN" in no_token.stderr
    assert standin.calls == []


def test_one_failing_destination_does_not_keep_the_digest_from_the_others(database_url, standin):
    ctx = context(database_url, standin, fraud={"digest": {"users": ["U0GONE", "U0LEAD"]}})
    seed_model(ctx.sessions)
    standin.fail_next("conversations.open", status=200, error="user_not_found")
    sent = send_digest(ctx, ctx.config.queue("fraud"))
    assert sent.problems == ["U0GONE: digest not posted (user_not_found)"]
    [(dm, _)] = sent.posts
    assert dm == "D0LEAD"
    assert_digest_with_chart(standin, dm)


def test_a_chart_slack_refuses_is_reported_and_the_digest_stays(database_url, standin):
    ctx = context(database_url, standin)
    seed_model(ctx.sessions)
    standin.fail_next("files.completeUploadExternal", status=200, error="not_in_channel")
    sent = send_digest(ctx, ctx.config.queue("fraud"))
    assert [c for c, _ in sent.posts] == [DIGEST_CHANNEL]
    assert sent.problems == [f"{DIGEST_CHANNEL}: chart not uploaded (not_in_channel)"]
    [digest] = standin.messages(DIGEST_CHANNEL)
    assert "fraud" in digest["text"]
