"""Riding out a database hiccup after a click was acknowledged.

Slack's click is acknowledged at once; the vote is written after. A database that is locked
(SQLite held by another writer past its busy timeout) or cut off (PostgreSQL restarting, a
network blip) for a while must not lose the answer: the write is tried again with backoff for
about a minute, measured from the click. Only errors that say the database could not be
reached are retried; a bug is not hidden behind a minute of retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff doubling from ``first_delay`` to ``max_delay``; no new try starts more than
    ``give_up_after`` seconds after the first. Tests pass small numbers."""

    first_delay: float = 0.5
    max_delay: float = 8.0
    give_up_after: float = 75.0

    def delays(self) -> Iterator[float]:
        delay = self.first_delay
        while True:
            yield delay
            delay = min(delay * 2, self.max_delay)


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached or was busy, not that the
    statement was wrong: locked, cut, restarting, or every pooled connection taken."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def with_retries(
    work: Callable[[], T],
    *,
    policy: RetryPolicy,
    what: str,
    on_retry: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``work()``, tried again while the database is unavailable; the last error once
    ``policy.give_up_after`` has passed. One warning line per retry, not a traceback.
    ``on_retry`` is called before each new try (a write may have committed before the error)."""
    started = clock()
    for delay in policy.delays():
        try:
            return work()
        except Exception as error:
            if not is_unavailable(error) or clock() + delay - started > policy.give_up_after:
                raise
            logger.warning(
                "%s: database unavailable (%s); trying again in %.1f s",
                what,
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
                delay,
            )
            sleep(delay)
            if on_retry is not None:
                on_retry()
    raise AssertionError("unreachable: delays() never ends")
