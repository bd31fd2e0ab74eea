"""A click during a database hiccup: acknowledged at once, recorded once the database is back
(SQLite locked by another writer; PostgreSQL cut off through a proxy); if it stays away, the
clicker is told plainly that nothing was recorded and the card keeps its buttons."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.review.retry import RetryPolicy
from storage.tables import Review
from tests.bot.slack.live_app import LiveApp, live_app
from tests.scenarios.harness import vote_button, wait_until
from tests.tcp_proxy import TcpProxy

CHANNEL = "C0REVIEW"
QUEUES = {"fraud": {"review_below": 1.0, "audit_rate": 0.0}}
OUTAGE = 1.5  # seconds; the production policy rides out a minute, see RetryPolicy
RIDES_IT_OUT = RetryPolicy(first_delay=0.05, max_delay=0.2, give_up_after=10)
GIVES_UP = RetryPolicy(first_delay=0.05, max_delay=0.1, give_up_after=0.3)


class Database:
    """The test's way to make the app's database unavailable for a while."""

    def __init__(self, database_url: str, proxy: TcpProxy | None) -> None:
        self.url = make_url(database_url)
        self.proxy = proxy
        self.app_url = (
            self.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            if proxy is not None
            else database_url
        )

    @contextmanager
    def away(self) -> Iterator[None]:
        if self.proxy is not None:  # PostgreSQL: every connection reset, new ones refused
            self.proxy.cut()
            try:
                yield
            finally:
                self.proxy.restore()
            return
        holder = sqlite3.connect(str(self.url.database), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # SQLite: another process holds the write lock
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    if database_url.startswith("sqlite"):
        yield Database(database_url, None)
        return
    url = make_url(database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield Database(database_url, proxy)


@contextmanager
def app_for(database: Database, policy: RetryPolicy) -> Iterator[LiveApp]:
    with live_app(
        str(database.url.render_as_string(hide_password=False)),
        queues=QUEUES,
        db_retry=policy,
        sqlite_busy_timeout_ms=100,
        app_database_url=database.app_url,
    ) as app:
        yield app


def votes(sessions) -> int:
    with sessions.begin() as session:
        return int(
            session.scalar(select(func.count()).select_from(Review).where(Review.action == "vote"))
        )


def ephemerals(app: LiveApp) -> list[str]:
    return [c.params["text"] for c in app.standin.calls_to("chat.postEphemeral")]


def test_clicks_during_an_outage_are_acknowledged_then_recorded_once_it_is_back(database, sessions):
    with app_for(database, RIDES_IT_OUT) as app:
        ids = app.ingest("fraud", 8)
        app.deliver()
        messages = [app.message_of(CHANNEL, i) for i in ids]
        with database.away():
            # More clicks than Bolt has listener threads: every one is acknowledged at once.
            for n, message in enumerate(messages):
                response = app.click(
                    user=f"U0REVIEWER{n}",
                    channel=CHANNEL,
                    message=message,
                    predicate=vote_button(1),
                )
                assert response.status_code == 200
            time.sleep(OUTAGE)  # the writes keep failing meanwhile
        wait_until(lambda: votes(sessions) == 8, timeout=20, what="8 votes recorded")
        app.standin.wait_for_calls("chat.update", 8, timeout=20)
        assert ephemerals(app) == []
    assert votes(sessions) == 8


def test_a_click_the_outage_outlasts_is_reported_as_not_recorded_and_keeps_its_buttons(
    database, sessions
):
    with app_for(database, GIVES_UP) as app:
        [item] = app.ingest("fraud", 1)
        app.deliver()
        message = app.message_of(CHANNEL, item)
        with database.away():
            response = app.click(
                user="U0ALICE", channel=CHANNEL, message=message, predicate=vote_button(1)
            )
            assert response.status_code == 200
            [told] = app.standin.wait_for_calls("chat.postEphemeral", 1, timeout=20)
        assert told.params["user"] == "U0ALICE"
        assert "not recorded" in told.params["text"]
        assert votes(sessions) == 0
        assert app.standin.calls_to("chat.update") == []
        assert "hitl_vote" in str(app.message_of(CHANNEL, item)["blocks"])  # buttons in place
        # Once the database is back, the same button works.
        app.click(user="U0ALICE", channel=CHANNEL, message=message, predicate=vote_button(1))
        wait_until(lambda: votes(sessions) == 1, timeout=20, what="the vote")
