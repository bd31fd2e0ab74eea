"""Live config: a running `hitl serve` and `hitl clock` pick up a changed hitl.toml (within a
second, or at once on SIGHUP); a bad one is refused in one log line and the old one stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import inspect, text

from storage.db import make_engine
from tests.factories import config_toml, items_for, seed_model
from tests.scenarios.harness import wait_until

REFUNDS_CHANNEL = "C0REFUNDS"


def test_serve_reloads_a_new_queue_and_posts_its_items(start_serve, standin, sessions, tmp_path):
    serve = start_serve(fraud={"review_below": 1.0})
    config = tmp_path / "hitl.toml"
    [first, second] = items_for(2, prefix="r")
    assert serve.post_items("refunds", [first]).status_code == 404

    seed_model(sessions, "refunds")
    config.write_text(
        config_toml(
            fraud={"review_below": 1.0},
            refunds={"channel": REFUNDS_CHANNEL, "review_below": 1.0},
        )
    )
    wait_until(
        lambda: serve.post_items("refunds", [first]).status_code == 200,
        timeout=15,
        what="the new queue served",
    )
    wait_until(
        lambda: any(
            c.params.get("channel") == REFUNDS_CHANNEL for c in standin.calls_to("chat.postMessage")
        ),
        timeout=15,
        what="the new queue's item posted",
    )
    assert "config reloaded" in serve.log() and "added refunds" in serve.log()

    # A bad file, told at once with SIGHUP: refused in one line naming the field; the process
    # lives on (SIGHUP's default would end it) with the config it had.
    config.write_text(config_toml(fraud={"review_below": 1.0}, refunds={"channel": "#refunds"}))
    serve.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "config not reloaded" in serve.log(), timeout=15, what="the refusal")
    assert serve.process.poll() is None
    [line] = [line for line in serve.log().splitlines() if "config not reloaded" in line]
    assert "queues.refunds.channel" in line and "ERROR" in line
    assert "Traceback" not in serve.log()
    assert serve.post_items("refunds", [second]).status_code == 200
    wait_until(
        lambda: serve.get_item("refunds", second["id"])["message"]["state"] == "posted",
        timeout=15,
        what="the old config still delivering",
    )


def test_clock_reloads_and_schedules_what_the_new_config_asks(database_url, sessions, tmp_path):
    seed_model(sessions, "fraud")
    config = tmp_path / "hitl.toml"
    config.write_text(config_toml(fraud={}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    log = tmp_path / "clock.log"
    engine = make_engine(database_url)

    def job_ids() -> set[str]:
        # The scheduler creates its table as it starts, a moment after it says so.
        if not inspect(engine).has_table("apscheduler_jobs"):
            return set()
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT id FROM apscheduler_jobs")))

    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "clock"],
            env={**env, "DATABASE_URL": database_url, "HITL_CONFIG": str(config)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: "starting the scheduler" in log.read_text(), timeout=30, what="the clock"
            )
            wait_until(lambda: "reminders" in job_ids(), what="the jobs declared")
            assert "retrain:fraud" not in job_ids()

            config.write_text(config_toml(fraud={"retrain": "0 3 * * *"}))
            process.send_signal(signal.SIGHUP)
            wait_until(lambda: "retrain:fraud" in job_ids(), timeout=15, what="the new retrain job")

            config.write_text(config_toml(fraud={"retrain": "every night"}))
            wait_until(
                lambda: "config not reloaded" in log.read_text(), timeout=15, what="the refusal"
            )
            time.sleep(0.2)
            assert "retrain:fraud" in job_ids()  # the old config's jobs stay
            assert process.poll() is None
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
            engine.dispose()
    output = log.read_text()
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if "config not reloaded" in line]
    assert "queues.fraud.retrain" in line
