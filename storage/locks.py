"""The lock that makes exactly one `hitl clock` act, however many run.

PostgreSQL: a session-level advisory lock on a connection the clock keeps open (released by
the server if the process dies). SQLite: a lease row renewed by the holder; another clock takes
over once the lease has expired.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Connection, Engine, delete, insert, or_, text, update
from sqlalchemy.exc import IntegrityError

from storage.db import is_postgres
from storage.tables import ClockLease, utcnow

ADVISORY_KEY = 0x6869746C  # "hitl"
LEASE = timedelta(seconds=30)


class ClockLock:
    def __init__(self, engine: Engine, *, name: str = "clock") -> None:
        self.engine = engine
        self.name = name
        self.holder = uuid.uuid4().hex
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        """Take (or renew) the lock; True while this process holds it."""
        if is_postgres(self.engine):
            if self._connection is None:
                conn = self.engine.connect()
                if conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}):
                    conn.commit()
                    self._connection = conn
                    return True
                conn.close()
                return False
            return True
        now = utcnow()
        with self.engine.begin() as conn:
            updated = conn.execute(
                update(ClockLease)
                .where(
                    ClockLease.name == self.name,
                    or_(ClockLease.holder == self.holder, ClockLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + LEASE)
            ).rowcount
            if updated:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(ClockLease).values(
                            name=self.name, holder=self.holder, expires_at=now + LEASE
                        )
                    )
                return True
            except IntegrityError:
                return False

    def release(self) -> None:
        if self._connection is not None:
            # Pooled connections keep session-level locks: unlock before handing it back.
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
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
