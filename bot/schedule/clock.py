"""`hitl clock`: APScheduler with its jobs stored in the app database, one active clock.

Persistent jobs must be importable functions with plain arguments, so the scheduled entry
points below look the process's context up in ``_context`` (set once by ``run_clock``); the
work itself is in ``bot.schedule.jobs``, which takes the context as a parameter.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.context import AppContext
from bot.digest import send as digest
from bot.live_config import watch_config
from bot.review.reminders import send_reminders
from bot.runtime import build_context
from bot.schedule import jobs
from bot.schedule.slots import slot_of
from bot.settings import Settings
from storage.job_runs import claim_run
from storage.locks import ClockLock
from storage.tables import utcnow

logger = logging.getLogger(__name__)

LOCK_POLL_SECONDS = 10.0
_context: AppContext | None = None
# The clock whose scheduler runs the current job thread (each scheduler's threads are bound to
# their clock when they start), so two clocks in one process (tests) each check their own lock.
_job_thread = threading.local()


def _ctx() -> AppContext:
    assert _context is not None, "run_clock sets the context before any job runs"
    return _context


def run_scheduled(job_id: str, work: Callable[[AppContext], object]) -> bool:
    """Run one scheduled job, if this clock still holds the lock and nobody ran this slot yet;
    whether it ran. Every scheduled entry point goes through here."""
    clock: Clock | None = getattr(_job_thread, "clock", None)
    ctx = clock.ctx if clock is not None else _ctx()
    if clock is not None and not clock.still_active(job_id):
        return False
    trigger = clock.trigger_of(job_id) if clock is not None else None
    slot = slot_of(trigger, utcnow())
    holder = clock.lock.holder if clock is not None else "direct"
    with ctx.sessions.begin() as session:
        claimed = claim_run(session=session, job=job_id, slot=slot, holder=holder)
    if not claimed:
        logger.info("%s: the run of %s is done already; skipped", job_id, slot.isoformat())
        return False
    work(ctx)
    return True


def scheduled_retrain(queue: str) -> None:
    run_scheduled(f"retrain:{queue}", lambda ctx: jobs.retrain_queue(ctx, ctx.config.queue(queue)))


def scheduled_digest(queue: str) -> None:
    run_scheduled(f"digest:{queue}", lambda ctx: digest.send_digest(ctx, ctx.config.queue(queue)))


def scheduled_retrain_after_answers() -> None:
    run_scheduled("retrain-after-answers", jobs.retrain_if_enough_answers)


def scheduled_delivery_retry() -> None:
    run_scheduled("delivery-retry", jobs.retry_failed_deliveries)


def scheduled_reminders() -> None:
    run_scheduled("reminders", send_reminders)


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
    """Waits for the database lock, then runs the scheduler while it keeps the lock.

    The lock is checked at every poll and, through ``still_active``, before every job: a clock
    whose lock connection was cut (PostgreSQL releases the lock then) or whose lease was taken
    (SQLite) skips the job and steps down, instead of acting next to the clock that took over.
    """

    def __init__(
        self, ctx: AppContext, *, poll: float = LOCK_POLL_SECONDS, lock: ClockLock | None = None
    ) -> None:
        self.ctx = ctx
        self.poll = poll
        self.lock = lock or ClockLock(ctx.engine)
        self.scheduler: BackgroundScheduler | None = None
        self._lost = threading.Event()

    def run(self, stop: threading.Event) -> None:
        global _context
        _context = self.ctx
        try:
            while not stop.is_set():
                if self._lost.is_set():
                    self._lost.clear()
                    self._stop()
                if self.lock.try_acquire():
                    if self.scheduler is None:
                        self._start_or_wait()
                elif self.scheduler is not None:
                    logger.warning("lost the clock lock; stopping the scheduler")
                    self._stop()
                self._sleep(stop)
        finally:
            self._stop()
            self.lock.release()

    def _sleep(self, stop: threading.Event) -> None:
        """Until the next poll, or sooner when stopped or when a job found the lock lost."""
        deadline = time.monotonic() + self.poll
        while not (stop.is_set() or self._lost.is_set()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            stop.wait(min(left, 0.2))

    def still_active(self, job_id: str) -> bool:
        """Whether this clock still holds the lock, asked of the database before ``job_id``
        runs. When it does not, the scheduler is paused at once (no further job starts) and
        stopped by the poll loop, which takes the lock again only once it is free."""
        if self.lock.holds():
            return True
        logger.warning("lost the clock lock: %s skipped, this clock steps down", job_id)
        self._lost.set()
        scheduler = self.scheduler
        if scheduler is not None:
            scheduler.pause()
        return False

    def trigger_of(self, job_id: str) -> BaseTrigger | None:
        scheduler = self.scheduler
        job = scheduler.get_job(job_id) if scheduler is not None else None
        return job.trigger if job is not None else None

    def _start_or_wait(self) -> None:
        try:
            self._start()
        except SQLAlchemyError as exc:  # the database went away between the lock and the start
            logger.warning("could not start the scheduler, trying again at the next poll: %s", exc)
            self._stop()

    def _start(self) -> None:
        logger.info("this clock holds the lock: starting the scheduler")
        store = SQLAlchemyJobStore(engine=self.ctx.engine, tablename="apscheduler_jobs")
        executor = ThreadPoolExecutor(pool_kwargs={"initializer": self._bind_job_thread})
        scheduler = BackgroundScheduler(
            jobstores={"default": store}, executors={"default": executor}, timezone="UTC"
        )
        scheduler.start(paused=True)
        try:
            schedule_jobs(scheduler, self.ctx)
            scheduler.resume()
        except BaseException:
            scheduler.shutdown(wait=False)
            raise
        self.scheduler = scheduler  # only once its jobs are declared: others read it as "running"

    def reschedule(self) -> None:
        """After a config reload: declare the jobs the new config asks for, drop the others."""
        scheduler = self.scheduler
        if scheduler is not None:
            schedule_jobs(scheduler, self.ctx)

    def _bind_job_thread(self) -> None:
        _job_thread.clock = self

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
