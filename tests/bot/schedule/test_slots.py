"""The slot of a scheduled run: the latest fire time of its trigger at or before now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.schedule.slots import last_fire_time, slot_of

WEDNESDAY = datetime(2026, 12, 2, 10, 0, 30, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "timezone", "expected"),
    [
        ("0 9 * * MON", "UTC", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
        # 9:00 in Paris is 8:00 UTC in winter
        ("0 9 * * MON", "Europe/Paris", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        ("* * * * *", "UTC", datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
        ("0 3 * * *", "UTC", datetime(2026, 12, 2, 3, 0, tzinfo=UTC)),
        ("0 0 1 1 *", "UTC", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_cron_slot_is_its_latest_fire_time(cron, timezone, expected):
    trigger = CronTrigger.from_crontab(cron, timezone=timezone)
    assert last_fire_time(trigger, WEDNESDAY) == expected
    # Any run between that fire time and the next belongs to the same slot.
    assert last_fire_time(trigger, expected) == expected
    assert last_fire_time(trigger, expected + timedelta(seconds=59)) == expected


def test_an_interval_slot_counts_from_the_start_date():
    start = datetime(2026, 12, 2, 9, 58, 0, tzinfo=UTC)
    trigger = IntervalTrigger(minutes=5, start_date=start)
    assert last_fire_time(trigger, WEDNESDAY) == start
    assert last_fire_time(trigger, start + timedelta(minutes=11)) == start + timedelta(minutes=10)


def test_a_trigger_that_never_fired_has_no_slot_and_a_run_by_hand_gets_its_second():
    trigger = IntervalTrigger(minutes=5, start_date=WEDNESDAY + timedelta(hours=1))
    assert last_fire_time(trigger, WEDNESDAY) is None
    assert slot_of(trigger, WEDNESDAY) == WEDNESDAY.replace(microsecond=0)
    assert slot_of(None, WEDNESDAY) == WEDNESDAY.replace(microsecond=0)
