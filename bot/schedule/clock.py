"""`hitl clock`: APScheduler with its jobs stored in the app database, one active clock.

Persistent jobs must be importable functions with plain arguments, so the scheduled entry
points below look the process's context up in ``_context`` (set once by ``run_clock``); the
work itself is in ``bot.schedule.jobs``, which takes the context as a parameter.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.context import AppContext
from bot.digest import send as digest
from bot.live_config import watch_config
from bot.review.reminders import send_reminders
from bot.runtime import build_context
from bot.schedule import jobs
from bot.settings import Settings
from storage.locks import ClockLock

logger = logging.getLogger(__name__)

LOCK_POLL_SECONDS = 10.0
_context: AppContext | None = None


def _ctx() -> AppContext:
    assert _context is not None, "run_clock sets the context before any job runs"
    return _context


def scheduled_retrain(queue: str) -> None:
    jobs.retrain_queue(_ctx(), _ctx().config.queue(queue))


def scheduled_digest(queue: str) -> None:
    digest.send_digest(_ctx(), _ctx().config.queue(queue))


def scheduled_retrain_after_answers() -> None:
    jobs.retrain_if_enough_answers(_ctx())


def scheduled_delivery_retry() -> None:
    jobs.retry_failed_deliveries(_ctx())


def scheduled_reminders() -> None:
    send_reminders(_ctx())


INTERVAL_JOBS: tuple[tuple[str, Callable[[], None], float], ...] = (
    ("retrain-after-answers", scheduled_retrain_after_answers, 1),
    ("delivery-retry", scheduled_delivery_retry, 5),
    ("reminders", scheduled_reminders, 1),
)


def schedule_jobs(scheduler: BackgroundScheduler, ctx: AppContext) -> list[str]:
    """(Re)declare every job with an explicit id, so restarts replace rather than duplicate,
    and drop stored jobs the config no longer asks for."""
    ids = []
    for queue in ctx.config.queues.values():
        if queue.retrain:
            job_id = f"retrain:{queue.name}"
            scheduler.add_job(
                scheduled_retrain,
                CronTrigger.from_crontab(queue.retrain),
                args=[queue.name],
                id=job_id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
            ids.append(job_id)
        if queue.digest is not None:
            job_id = f"digest:{queue.name}"
            scheduler.add_job(
                scheduled_digest,
                CronTrigger.from_crontab(queue.digest.cron, timezone=queue.digest.timezone),
                args=[queue.name],
                id=job_id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=6 * 3600,  # a clock down at 9:00 still sends Monday's digest
            )
            ids.append(job_id)
    for job_id, func, minutes in INTERVAL_JOBS:
        scheduler.add_job(
            func,
            IntervalTrigger(minutes=minutes),
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        ids.append(job_id)
    for job in scheduler.get_jobs():
        if job.id not in ids:  # a queue or schedule removed from the config since last start
            job.remove()
    return ids


class Clock:
    """Waits for the database lock, then runs the scheduler while it keeps the lock."""

    def __init__(self, ctx: AppContext, *, poll: float = LOCK_POLL_SECONDS) -> None:
        self.ctx = ctx
        self.poll = poll
        self.lock = ClockLock(ctx.engine)
        self.scheduler: BackgroundScheduler | None = None

    def run(self, stop: threading.Event) -> None:
        global _context
        _context = self.ctx
        try:
            while not stop.is_set():
                if self.lock.try_acquire():
                    if self.scheduler is None:
                        self._start()
                elif self.scheduler is not None:
                    logger.warning("lost the clock lock; pausing the scheduler")
                    self._stop()
                stop.wait(self.poll)
        finally:
            self._stop()
            self.lock.release()

    def _start(self) -> None:
        logger.info("this clock holds the lock: starting the scheduler")
        store = SQLAlchemyJobStore(engine=self.ctx.engine, tablename="apscheduler_jobs")
        scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
        scheduler.start(paused=True)
        schedule_jobs(scheduler, self.ctx)
        scheduler.resume()
        self.scheduler = scheduler  # only once its jobs are declared: others read it as "running"

    def reschedule(self) -> None:
        """After a config reload: declare the jobs the new config asks for, drop the others."""
        scheduler = self.scheduler
        if scheduler is not None:
            schedule_jobs(scheduler, self.ctx)

    def _stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None


def run_clock(settings: Settings) -> None:
    if settings.uses_slack_standin:
        # The clock's jobs still run (retraining, re-scoring); only their Slack calls fail.
        logger.warning(
            "SLACK_BOT_TOKEN is not set: announcements, digests and reminders cannot reach "
            "Slack (point SLACK_API_URL and SLACK_BOT_TOKEN at a stand-in to see them)"
        )
    ctx = build_context(settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C, or SIGTERM from a platform stopping the process: finish the running job, shut
    # the scheduler down and hand the lock over at once instead of when its lease expires.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    clock = Clock(ctx)
    watcher = watch_config(ctx, then=lambda config: clock.reschedule()).start()
    watcher.reload_on_sighup()
    try:
        clock.run(stop)
    finally:
        watcher.stop()
    logger.info("hitl clock stopped")
