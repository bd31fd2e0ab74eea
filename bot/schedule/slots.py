"""The slot of a scheduled run: the latest time at or before now that its trigger fired.

APScheduler 3 does not tell a job which scheduled time it runs for; the trigger can. Two clocks
running the same job for the same fire time compute the same slot, and `job_runs` lets only
one of them through.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

_FIRST_LOOKBACK = timedelta(minutes=2)
_MAX_LOOKBACK = timedelta(days=400)  # a yearly cron still has a slot
_TICK = timedelta(microseconds=1)


def last_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest fire time of ``trigger`` at or before ``now`` (UTC), or None if it never
    fired in the last 400 days.

    Looks back 2 minutes, then 4 times further each round, so a job every minute and a weekly
    digest both cost a handful of trigger steps.
    """
    lookback = _FIRST_LOOKBACK
    while lookback <= _MAX_LOOKBACK:
        fired = trigger.get_next_fire_time(None, now - lookback)
        if fired is not None and fired <= now:
            while True:
                following = trigger.get_next_fire_time(fired, fired + _TICK)
                if following is None or following > now or following <= fired:
                    return fired.astimezone(UTC)
                fired = following
        lookback *= 4
    return None


def slot_of(trigger: BaseTrigger | None, now: datetime) -> datetime:
    """The slot a run at ``now`` belongs to; ``now`` to the second when the trigger has none
    (a job run by hand)."""
    fired = last_fire_time(trigger, now) if trigger is not None else None
    return fired if fired is not None else now.astimezone(UTC).replace(microsecond=0)
