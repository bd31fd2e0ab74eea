"""Two clocks on one database: one holds the lock and runs the scheduled retrain, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime import build_context
from bot.schedule.clock import Clock, schedule_jobs
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from storage.db import make_engine
from storage.locks import ClockLock
from storage.registry import current_version, list_versions
from tests.factories import config_toml, make_config, seed_model


def test_only_one_lock_holder(engine):
    first, second = ClockLock(engine), ClockLock(engine)
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.try_acquire()  # renewing is fine
    first.release()
    assert second.try_acquire()
    second.release()


def answered_items(sessions, n: int = 3) -> None:
    """``n`` items answered since the first model, so a retrain has something new to learn."""
    from storage.items import NewItem, add_items
    from tests.factories import cancer_rows, vote

    payloads, y = cancer_rows()
    with sessions.begin() as session:
        version = current_version(session=session, queue="fraud")
        items = add_items(
            session=session,
            queue="fraud",
            channel="C0REVIEW",
            model_version_id=version.id,
            items=[
                NewItem(f"a-{i}", payloads[300 + i], {}, "legit", 0.6, "review", 1.0, 0.4)
                for i in range(n)
            ],
        )
        pks = [item.id for item in items]
    for i, pk in enumerate(pks):
        vote(sessions, pk, "U0ANALYST", y[300 + i])


def test_two_clocks_run_a_scheduled_retrain_once(database_url, sessions):
    seed_model(sessions)
    answered_items(sessions)
    config = make_config(fraud={"retrain": "0 3 * * *"})
    with SlackStandin() as standin:
        contexts = [
            build_context(
                Settings(database_url=database_url),
                config=config,
                token=standin.bot_token,
                api_url=standin.api_url,
            )
            for _ in range(2)
        ]
        clocks = [Clock(ctx, poll=0.1) for ctx in contexts]
        stop = threading.Event()
        threads = [threading.Thread(target=c.run, args=(stop,)) for c in clocks]
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 10
            while not any(c.scheduler for c in clocks) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # both clocks have polled the lock several times
            active = [c for c in clocks if c.scheduler is not None]
            assert len(active) == 1
            scheduler = active[0].scheduler
            assert scheduler is not None
            # Bring the 03:00 retrain forward to now, in the shared job store.
            scheduler.modify_job("retrain:fraud", next_run_time=datetime.now(UTC))
            standin.wait_for_calls("chat.postMessage", 1, timeout=20)  # the announcement
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=20)
    with sessions.begin() as session:
        versions = list_versions(session=session, queue="fraud")
    assert [v.version for v in versions] == ["fraud-v1", "fraud-v2"]
    assert len(standin.calls_to("chat.postMessage")) == 1


def test_digests_run_on_their_cron_in_their_time_zone_and_stale_jobs_go(database_url):
    config = make_config(
        fraud={"digest": {"channel": "C0LEADS", "cron": "0 9 * * MON", "timezone": "Europe/Paris"}}
    )
    ctx = build_context(Settings(database_url=database_url), config=config)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        scheduler.add_job(print, "interval", minutes=1, id="digest:removed-queue")
        ids = schedule_jobs(scheduler, ctx)
        assert "digest:fraud" in ids
        assert scheduler.get_job("digest:removed-queue") is None
        run = scheduler.get_job("digest:fraud").next_run_time
        paris = run.astimezone(ZoneInfo("Europe/Paris"))
        assert (paris.weekday(), paris.hour, paris.minute) == (0, 9, 0)
        # Paris is UTC+1 in winter and UTC+2 in summer: 9:00 there is never 9:00 UTC.
        assert run.astimezone(UTC).hour in (7, 8)
    finally:
        scheduler.shutdown(wait=False)
        ctx.engine.dispose()


def test_sigterm_stops_a_clock_and_hands_its_lock_over_at_once(database_url, tmp_path):
    config = tmp_path / "hitl.toml"
    config.write_text(config_toml(fraud={}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    log = tmp_path / "clock.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "clock"],
            env={**env, "DATABASE_URL": database_url, "HITL_CONFIG": str(config)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while "starting the scheduler" not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    assert "hitl clock stopped" in log.read_text()
    engine = make_engine(database_url)
    try:
        other = ClockLock(engine)
        assert other.try_acquire()  # free now, not 30 s from now when a lease would expire
        other.release()
    finally:
        engine.dispose()
