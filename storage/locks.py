"""The lock that makes exactly one `hitl clock` act, however many run.

PostgreSQL: a session-level advisory lock on a connection the clock keeps open (released by
the server if the process dies or the connection is cut). SQLite: a lease row renewed by the
holder; another clock takes over once the lease has expired.

Holding the lock is not a fact a clock can remember: a cut connection releases an advisory
lock on the server while the client still believes it holds it, and a frozen process wakes up
to find its lease taken. ``holds`` asks the database, and the clock asks before every job.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

from sqlalchemy import Connection, Engine, delete, insert, or_, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage.db import is_postgres
from storage.tables import ClockLease, utcnow

logger = logging.getLogger(__name__)

ADVISORY_KEY = 0x6869746C  # "hitl"; the second key is the schema's, so schemas do not share it
LEASE = timedelta(seconds=30)

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))")
_UNLOCK = text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))")
_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
    " AND pid = pg_backend_pid() AND granted AND classid::bigint = :k"
    " AND objid = hashtext(current_schema())::oid AND objsubid = 2)"
)


class ClockLock:
    def __init__(self, engine: Engine, *, name: str = "clock", lease: timedelta = LEASE) -> None:
        self.engine = engine
        self.name = name
        self.lease = lease
        self.holder = uuid.uuid4().hex
        self._connection: Connection | None = None
        self._guard = threading.Lock()  # the poll loop and the job threads share the connection

    def try_acquire(self) -> bool:
        """Take (or keep) the lock; True while this process holds it. A database that cannot be
        reached answers False: a clock that cannot tell whether it holds the lock must not act."""
        with self._guard:
            try:
                if is_postgres(self.engine):
                    if self._connection is not None:
                        # Lost: False this time, so the clock steps down; retaken at a later poll.
                        return self._held_advisory()
                    return self._take_advisory()
                return self._renew_or_take_lease()
            except DBAPIError as exc:
                logger.warning("clock lock: database unreachable (%s)", _one_line(exc))
                self._drop_connection()
                return False

    def holds(self) -> bool:
        """Whether this process still holds the lock, asked of the database (and the lease
        renewed on SQLite). False when the database cannot say."""
        with self._guard:
            try:
                if is_postgres(self.engine):
                    return self._held_advisory()
                return self._renew_lease()
            except DBAPIError as exc:
                logger.warning("clock lock: database unreachable (%s)", _one_line(exc))
                self._drop_connection()
                return False

    def release(self) -> None:
        with self._guard:
            try:
                if self._connection is not None:
                    # Pooled connections keep session-level locks: unlock before handing it back.
                    self._connection.execute(_UNLOCK, {"k": ADVISORY_KEY})
                    self._connection.commit()
                    self._connection.close()
                    self._connection = None
                elif not is_postgres(self.engine):
                    with self.engine.begin() as conn:
                        conn.execute(
                            delete(ClockLease).where(
                                ClockLease.name == self.name, ClockLease.holder == self.holder
                            )
                        )
            except DBAPIError as exc:  # the server releases the lock of a dead connection
                logger.warning("clock lock: could not release (%s)", _one_line(exc))
                self._drop_connection()

    # ------------------------------------------------------------------ PostgreSQL

    def _held_advisory(self) -> bool:
        if self._connection is None:
            return False
        try:
            held = bool(self._connection.scalar(_HELD, {"k": ADVISORY_KEY}))
            self._connection.commit()
        except DBAPIError as exc:
            logger.warning("clock lock: lock connection lost (%s)", _one_line(exc))
            self._drop_connection()
            return False
        if not held:
            self._drop_connection()
        return held

    def _take_advisory(self) -> bool:
        conn = self.engine.connect()
        try:
            taken = bool(conn.scalar(_TRY_LOCK, {"k": ADVISORY_KEY}))
            conn.commit()
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        if taken:
            self._connection = conn
        else:
            conn.close()
        return taken

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()  # never back to the pool: it may hold the lock
                self._connection.close()
            except DBAPIError:
                pass
            self._connection = None

    # ------------------------------------------------------------------ SQLite lease

    def _renew_lease(self) -> bool:
        now = utcnow()
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(ClockLease)
                .where(ClockLease.name == self.name, ClockLease.holder == self.holder)
                .values(expires_at=now + self.lease)
            ).rowcount
        return bool(renewed)

    def _renew_or_take_lease(self) -> bool:
        now = utcnow()
        with self.engine.begin() as conn:
            updated = conn.execute(
                update(ClockLease)
                .where(
                    ClockLease.name == self.name,
                    or_(ClockLease.holder == self.holder, ClockLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.lease)
            ).rowcount
            if updated:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(ClockLease).values(
                            name=self.name, holder=self.holder, expires_at=now + self.lease
                        )
                    )
                return True
            except IntegrityError:
                return False


def _one_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
