"""A scheduled run is claimed once per (job, slot), by one clock, even at the same moment."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from storage.job_runs import claim_run

SLOT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def claim(sessions, job="digest:fraud", slot=SLOT, holder="a") -> bool:
    with sessions.begin() as session:
        return claim_run(session=session, job=job, slot=slot, holder=holder)


def test_a_slot_is_claimed_once_and_other_slots_and_jobs_are_their_own(sessions):
    assert claim(sessions)
    assert not claim(sessions, holder="b")
    assert claim(sessions, slot=SLOT + timedelta(days=7))
    assert claim(sessions, job="retrain:fraud")


def test_two_clocks_claiming_the_same_slot_at_once_get_it_once(sessions):
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def one(holder: str) -> None:
        barrier.wait()
        results.append(claim(sessions, holder=holder))

    threads = [threading.Thread(target=one, args=(f"c{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
