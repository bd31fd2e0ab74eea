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
from sqlalchemy import Engine, text, update

from bot.runtime import build_context
from bot.schedule.clock import Clock, run_scheduled, schedule_jobs
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from storage.db import make_engine
from storage.locks import ADVISORY_KEY, ClockLock
from storage.registry import list_versions
from storage.tables import ClockLease
from tests.factories import answered_items, config_toml, make_config, seed_model
from tests.scenarios.harness import wait_until


def test_only_one_lock_holder(engine):
    first, second = ClockLock(engine), ClockLock(engine)
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.try_acquire()  # renewing is fine
    first.release()
    assert second.try_acquire()
    second.release()


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


# ---------------------------------------------------------------- a lock lost under a clock


def take_the_lock_away(database_url: str, engine: Engine) -> ClockLock:
    """What a database hiccup does to the active clock: PostgreSQL ends its lock connection
    (the server then releases the advisory lock); on SQLite its lease runs out. Then another
    clock takes the lock; returned holding it."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            ended = conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND classid::bigint = :k"
                    " AND objid = hashtext(current_schema())::oid AND objsubid = 2"
                ),
                {"k": ADVISORY_KEY},
            )
        assert ended == 1
    else:
        with engine.begin() as conn:
            conn.execute(update(ClockLease).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
    other = ClockLock(engine)
    deadline = time.monotonic() + 10
    while not other.try_acquire():
        assert time.monotonic() < deadline, "the lock was never released"
        time.sleep(0.05)
    return other


def test_a_clock_that_lost_its_lock_skips_the_next_job_and_steps_down(database_url, sessions):
    seed_model(sessions)
    with SlackStandin() as standin:
        ctx = build_context(
            Settings(database_url=database_url),
            config=make_config(fraud={"retrain": "0 3 * * *"}),
            token=standin.bot_token,
            api_url=standin.api_url,
        )
        clock = Clock(ctx, poll=60)  # it would notice at its next poll: a minute away
        stop = threading.Event()
        thread = threading.Thread(target=clock.run, args=(stop,))
        thread.start()
        other = None
        try:
            wait_until(lambda: clock.scheduler is not None, timeout=20, what="the clock's start")
            other = take_the_lock_away(database_url, ctx.engine)
            scheduler = clock.scheduler
            assert scheduler is not None
            scheduler.modify_job("retrain:fraud", next_run_time=datetime.now(UTC))
            wait_until(lambda: clock.scheduler is None, timeout=20, what="the clock stepping down")
        finally:
            stop.set()
            thread.join(timeout=20)
            if other is not None:
                other.release()
            ctx.engine.dispose()
    with sessions.begin() as session:
        versions = list_versions(session=session, queue="fraud")
    assert [v.version for v in versions] == ["fraud-v1"]  # the retrain did not run
    assert standin.calls_to("chat.postMessage") == []


def test_a_slot_runs_once_even_when_two_clocks_overlap(database_url, sessions):
    """The first clock passed its lock check and ran Monday's digest; its lock then went to a
    second clock, whose scheduler fires the same digest: that slot is done, it is skipped."""
    config = make_config(fraud={"digest": {"channel": "C0LEADS", "cron": "0 9 * * MON"}})
    ran: list[str] = []

    def run_digest_in_a_job_thread(clock: Clock, name: str) -> None:
        def job() -> None:
            clock._bind_job_thread()
            run_scheduled("digest:fraud", lambda ctx: ran.append(name))

        thread = threading.Thread(target=job)
        thread.start()
        thread.join()

    contexts = [build_context(Settings(database_url=database_url), config=config) for _ in "ab"]
    first, second = (Clock(ctx, poll=60) for ctx in contexts)
    try:
        assert first.lock.try_acquire()
        first._start()
        run_digest_in_a_job_thread(first, "first")
        take_the_lock_away(database_url, contexts[0].engine).release()
        assert second.lock.try_acquire()
        second._start()
        run_digest_in_a_job_thread(second, "second")
        run_digest_in_a_job_thread(first, "first again")  # lost its lock: does not even look
    finally:
        for clock in (first, second):
            clock._stop()
            clock.lock.release()
        for ctx in contexts:
            ctx.engine.dispose()
    assert ran == ["first"]
