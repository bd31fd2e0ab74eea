"""Engines and sessions, built by a factory from a URL (never at import time).

SQLite gets WAL, foreign keys and a busy timeout, and every transaction starts with
``BEGIN IMMEDIATE``: writers queue on the database lock instead of failing half-way with
"database is locked", which is what makes concurrent clicks safe without row locks.
PostgreSQL uses ``SELECT … FOR UPDATE`` (see ``storage.reviews``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


POSTGRES_CONNECT_TIMEOUT_S = 10


def make_engine(
    url: str, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any
) -> Engine:
    """``sqlite_busy_timeout_ms``: how long a SQLite writer waits for the lock before
    "database is locked" (tests shorten it). PostgreSQL connections give up connecting after
    10 s, so a database behind a dead network fails a request instead of hanging it."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": sqlite_busy_timeout_ms / 1000}, **kwargs
        )
        _configure_sqlite(engine, sqlite_busy_timeout_ms)
        return engine
    connect_args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S, **kwargs.pop("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(bind: Engine | Connection) -> bool:
    """Whether locking goes through PostgreSQL's row and advisory locks (else SQLite's
    ``BEGIN IMMEDIATE``)."""
    return bind.dialect.name == "postgresql"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on any error."""
    with sessions.begin() as session:
        yield session
