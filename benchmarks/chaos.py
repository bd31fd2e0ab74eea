"""Chaos: the faults a hostile probe found, replayed against the real processes; every count
should be 0. Bounded (every wait has a deadline) and on 127.0.0.1 only: the Slack stand-in,
`hitl serve` and `hitl clock` as child processes, PostgreSQL through a small TCP proxy that can
cut every connection.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.chaos [--quick]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]   (default: $HITL_TEST_POSTGRES_URL)

Scenarios, on SQLite and on PostgreSQL (a schema of its own, dropped at the end):

- slack failures: review items through `hitl serve` while the stand-in answers 429 with
  Retry-After, 500 (before and after posting), and times out (after posting, and not);
- kill -9: `hitl serve` killed while messages are in flight (posted, not yet recorded), then
  started again. On PostgreSQL: two serves and two clocks posting a digest every minute, one
  serve killed and restarted, and the database cut for 8 s under the active clock;
- fuzz: hostile requests (tests/fuzz_requests.py) to /v1 and /slack/events on one keep-alive
  connection;
- clicks during an outage: SQLite locked by another writer for 35 s, PostgreSQL cut for 8 s.

Counts: lost (accepted, then never stored or posted), doubled (posted or stored twice; for
clocks, a digest slot sent twice), stuck (not settled by the deadline), 5xx (server errors;
a closed keep-alive connection is counted there too).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.slack_standin.server import SlackStandin
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.tables import Item, Prediction, Review, ReviewMessage
from tests.bot.slack.live_app import API_TOKEN as LIVE_API_TOKEN
from tests.bot.slack.live_app import SIGNING_SECRET as LIVE_SECRET
from tests.bot.slack.live_app import live_app, over_http
from tests.factories import config_toml, items_for, seed_model
from tests.fuzz_requests import FuzzRequest, Prober, requests, stored_consistently
from tests.scenarios.harness import ServeProcess, vote_button
from tests.tcp_proxy import TcpProxy

CHANNEL, LEADS = "C0REVIEW", "C0LEADS"
SLACK_TIMEOUT = 10  # seconds: bot.runtime.SLACK_TIMEOUT_SECONDS, what `hitl serve` waits


@dataclass
class Row:
    scenario: str
    database: str
    n: int
    lost: int
    doubled: int
    stuck: int
    http_5xx: int
    seconds: float
    note: str = ""


def wait_for(predicate: Callable[[], Any], timeout: float, poll: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


# ------------------------------------------------------------------ databases


@contextmanager
def database(kind: str, postgres: str | None, tmp: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a PostgreSQL schema dropped at the end."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'chaos-{uuid.uuid4().hex[:8]}.db'}"
        return
    assert postgres is not None
    schema = f"chaos_{uuid.uuid4().hex[:10]}"
    base = make_url(postgres).set(drivername="postgresql+psycopg")
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def through(proxy: TcpProxy, url: str) -> str:
    return (
        make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )


@contextmanager
def proxy_for(url: str) -> Iterator[TcpProxy]:
    parsed = make_url(url)
    with TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432) as proxy:
        yield proxy


class Workspace:
    """A database with a trained queue, its config file, the stand-in and the processes."""

    def __init__(self, url: str, tmp: Path, standin: SlackStandin, **queue: Any) -> None:
        self.url, self.tmp, self.standin = url, tmp, standin
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        seed_model(self.sessions)
        self.config = tmp / f"hitl-{uuid.uuid4().hex[:6]}.toml"
        fields = {"review_below": 1.0, "audit_rate": 0.0, "max_open": 100_000, **queue}
        self.config.write_text(config_toml(fraud=fields))
        self.serves: list[ServeProcess] = []
        self.clocks: list[subprocess.Popen[bytes]] = []

    def serve(self, url: str | None = None) -> ServeProcess:
        serve = ServeProcess(
            database_url=url or self.url,
            config_path=self.config,
            standin=self.standin,
            log_path=self.tmp / f"serve-{uuid.uuid4().hex[:6]}.log",
        )
        self.serves.append(serve)
        return serve

    def clock(self, url: str | None = None) -> tuple[subprocess.Popen[bytes], Path]:
        env = {
            **os.environ,
            "DATABASE_URL": url or self.url,
            "HITL_CONFIG": str(self.config),
            "SLACK_BOT_TOKEN": self.standin.bot_token,
            "SLACK_API_URL": self.standin.api_url,
            "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
        }
        path = self.tmp / f"clock-{uuid.uuid4().hex[:6]}.log"
        with path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "clock"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.clocks.append(process)
        return process, path

    def close(self) -> None:
        for serve in self.serves:
            if serve.process.poll() is None:
                serve.stop()
        for clock in self.clocks:
            if clock.poll() is None:
                clock.terminate()
                try:
                    clock.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    clock.kill()
        self.engine.dispose()

    # what the database and the channel hold

    def routed_ids(self) -> set[str]:
        with self.sessions.begin() as session:
            return set(
                session.scalars(
                    select(Item.external_id)
                    .join(Prediction, Prediction.item_id == Item.id)
                    .where(Prediction.route != "auto")
                )
            )

    def wait_for_clock(self, log: Path, timeout: float = 60) -> None:
        if not wait_for(lambda: "starting the scheduler" in log.read_text(), timeout):
            raise RuntimeError(f"hitl clock never took the lock:\n{log.read_text()}")

    def states(self) -> Counter[str]:
        with self.sessions.begin() as session:
            return Counter(session.scalars(select(ReviewMessage.state)))

    def posted_per_item(self) -> Counter[str]:
        return Counter(
            m["metadata"]["event_payload"]["item_id"]
            for m in self.standin.messages(CHANNEL)
            if (m.get("metadata") or {}).get("event_type") == "hitl_review_item"
        )

    def delivery_counts(self, accepted: set[str]) -> tuple[int, int, int]:
        """(lost, doubled, stuck) of review messages for the items the API accepted: lost is
        accepted but not stored, or recorded as posted with no message in the channel; stuck
        is stored but never settled (posted) by the deadline."""
        posted = self.posted_per_item()
        with self.sessions.begin() as session:
            rows = session.execute(
                select(Item.external_id, ReviewMessage.state).join(
                    ReviewMessage, ReviewMessage.item_id == Item.id
                )
            )
            states = {item_id: state for item_id, state in rows}
        settled = {i for i, state in states.items() if state in ("posted", "resolved")}
        lost = len(accepted - set(states)) + sum(1 for i in settled if posted[i] == 0)
        doubled = sum(n - 1 for n in posted.values() if n > 1)
        stuck = len(set(states) - settled)
        return lost, doubled, stuck

    def settled(self) -> bool:
        states = self.states()
        return sum(states.values()) > 0 and set(states) <= {"posted", "resolved"}


def ingest(serves: list[ServeProcess], n: int, prefix: str) -> tuple[set[str], int]:
    """POST n items in batches of 100, alternating between serves; (accepted ids, 5xx)."""
    accepted: set[str] = set()
    errors = 0
    for start in range(0, n, 100):
        batch = items_for(min(100, n - start), start=300, prefix=f"{prefix}{start}")
        serve = serves[(start // 100) % len(serves)]
        for _ in range(3):  # a producer retries what it could not send (ingestion is idempotent)
            try:
                response = serve.post_items("fraud", batch)
            except httpx.HTTPError:
                time.sleep(1)
                continue
            errors += response.status_code >= 500
            if response.status_code == 200:
                accepted |= {a["id"] for a in response.json()["items"] if a["route"] != "auto"}
                break
    return accepted, errors


# ------------------------------------------------------------------ scenarios


def slack_failures(kind: str, url: str, tmp: Path, standin: SlackStandin, n: int) -> Row:
    started = time.monotonic()
    ws = Workspace(url, tmp, standin)
    try:
        serve = ws.serve()
        # Consumed in this order by the first chat.postMessage calls.
        standin.fail_next("chat.postMessage", status=200, delay=SLACK_TIMEOUT + 1, times=3)
        standin.fail_next("chat.postMessage", status=503, delay=SLACK_TIMEOUT + 1, times=3)
        standin.fail_next("chat.postMessage", status=429, retry_after=1, times=3)
        standin.fail_next("chat.postMessage", status=500, times=5)
        standin.fail_next("chat.postMessage", status=500, carry_out=True, times=5)
        accepted, errors = ingest([serve], n, "sf")
        wait_for(lambda: ws.settled() and len(ws.routed_ids()) >= len(accepted), 180)
        lost, doubled, stuck = ws.delivery_counts(accepted)
        note = "429+Retry-After ×3, 500 ×5, 500 after posting ×5, timeouts ×3 posted + ×3 not"
        return Row(
            "slack failures",
            kind,
            n,
            lost,
            doubled,
            stuck,
            errors,
            time.monotonic() - started,
            note,
        )
    finally:
        ws.close()
        standin.reset()


def kill_serve(kind: str, url: str, tmp: Path, standin: SlackStandin, n: int) -> Row:
    started = time.monotonic()
    ws = Workspace(url, tmp, standin)
    try:
        serve = ws.serve()
        # Slow posts (carried out, answered late), so posts are in flight when it dies.
        standin.fail_next("chat.postMessage", status=200, delay=0.05, times=n)
        accepted, errors = ingest([serve], n, "k")
        wait_for(lambda: sum(ws.posted_per_item().values()) >= n // 4, 60, poll=0.02)
        serve.process.kill()  # kill -9, mid-batch
        serve.process.wait(timeout=10)
        in_flight = ws.states()["sending"]
        ws.serve()
        wait_for(ws.settled, 120)
        lost, doubled, stuck = ws.delivery_counts(accepted)
        note = f"killed with {in_flight} messages claimed and not recorded; restarted"
        return Row(
            "kill -9 serve", kind, n, lost, doubled, stuck, errors, time.monotonic() - started, note
        )
    finally:
        ws.close()
        standin.reset()


def two_of_each(kind: str, url: str, tmp: Path, standin: SlackStandin, n: int, quick: bool) -> Row:
    """PostgreSQL: two serves, two clocks with a digest every minute; one serve killed and
    restarted; the database cut for 8 s under the active clock (it reaches it via a proxy)."""
    started = time.monotonic()
    ws = Workspace(url, tmp, standin, digest={"channel": LEADS, "cron": "* * * * *"})
    try:
        with proxy_for(url) as proxy:
            first_clock, first_log = ws.clock(through(proxy, url))  # it takes the lock
            ws.wait_for_clock(first_log)
            _, second_log = ws.clock()
            a, b = ws.serve(), ws.serve()
            standin.fail_next("chat.postMessage", status=200, delay=0.05, times=n)
            accepted, errors = ingest([a, b], n, "pg")
            wait_for(lambda: sum(ws.posted_per_item().values()) >= n // 4, 60, poll=0.02)
            a.process.kill()
            a.process.wait(timeout=10)
            ws.serve()
            wait_for(lambda: digests_sent(standin) >= 1, 75)
            proxy.cut()  # the active clock's lock connection dies; the other clock takes over
            time.sleep(8)
            proxy.restore()
            time.sleep(60 * (1 if quick else 2))  # digests keep coming, one a minute
            wait_for(ws.settled, 120)
            took_over = "starting the scheduler" in second_log.read_text()
            lost, doubled, stuck = ws.delivery_counts(accepted)
            slots = digest_slots(standin)
            doubled += sum(k - 1 for k in slots.values() if k > 1)
            alive = first_clock.poll() is None
        note = (
            f"{len(slots)} digest slots, {sum(slots.values())} digests; "
            f"serve A killed and restarted; 8 s cut: second clock "
            f"{'took over' if took_over else 'stayed idle'}, first {'alive' if alive else 'exited'}"
        )
        return Row(
            "2 serves + 2 clocks",
            kind,
            n,
            lost,
            doubled,
            stuck,
            errors,
            time.monotonic() - started,
            note,
        )
    finally:
        ws.close()
        standin.reset()


def digests_sent(standin: SlackStandin) -> int:
    return sum(
        1
        for c in standin.calls_to("chat.postMessage")
        if c.params.get("channel") == LEADS
        and not c.params.get("thread_ts")
        and c.response.get("ok")
    )


def digest_slots(standin: SlackStandin) -> Counter[int]:
    """Digests sent per minute (wall clock), from the stand-in's record."""
    offset = time.time() - time.monotonic()
    return Counter(
        int((c.at + offset) // 60)
        for c in standin.calls_to("chat.postMessage")
        if c.params.get("channel") == LEADS
        and not c.params.get("thread_ts")
        and c.response.get("ok")
    )


def fuzz(kind: str, url: str, n: int) -> Row:
    started = time.monotonic()
    counts: Counter[str] = Counter()
    with (
        live_app(url, queues={"fraud": {"review_below": 0.95, "audit_rate": 0.1}}) as app,
        over_http(app.web) as (host, port),
    ):
        prober = Prober(host, port, app.ctx.sessions)

        @settings(
            max_examples=n,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(requests(api_token=LIVE_API_TOKEN, signing_secret=LIVE_SECRET))
        def one(request: FuzzRequest) -> None:
            counts["requests"] += 1
            verdict = prober.send(request)
            counts["5xx"] += verdict.status >= 500
            counts["closed"] += not verdict.survived
            counts["partial"] += verdict.partial
            counts[f"{verdict.status // 100}xx"] += 1

        one()
        prober.close()
        inconsistent = len(stored_consistently(app.ctx.sessions))
    note = ", ".join(f"{counts[k]} {k}" for k in ("2xx", "4xx")) + f"; {counts['closed']} closed"
    return Row(
        "fuzzed requests",
        kind,
        counts["requests"],
        counts["partial"] + inconsistent,
        0,
        0,
        counts["5xx"] + counts["closed"],
        time.monotonic() - started,
        note,
    )


@contextmanager
def sqlite_locked(url: str) -> Iterator[None]:
    holder = sqlite3.connect(str(make_url(url).database), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def clicks_in_outage(kind: str, url: str, tmp: Path, standin: SlackStandin, clicks: int) -> Row:
    """Clicks on posted messages while the database is away: SQLite locked for 35 s by another
    writer, or PostgreSQL cut for 8 s (the serve reaches it through the proxy)."""
    started = time.monotonic()
    ws = Workspace(url, tmp, standin)
    try:
        with proxy_for(url) if kind == "postgresql" else _nothing() as proxy:
            serve = ws.serve(through(proxy, url) if proxy is not None else url)
            accepted, errors = ingest([serve], clicks, "c")
            wait_for(ws.settled, 60)
            messages = [m for m in standin.messages(CHANNEL) if m.get("metadata")]
            outage_s = 8 if proxy is not None else 35

            @contextmanager
            def away() -> Iterator[None]:
                if proxy is not None:
                    proxy.cut()
                    try:
                        yield
                    finally:
                        proxy.restore()
                else:
                    with sqlite_locked(url):
                        yield

            acks: list[float] = []
            with away():
                outage_started = time.monotonic()
                for i, message in enumerate(messages):
                    t0 = time.monotonic()
                    response = serve.click(
                        user=f"U0CLICK{i:03d}",
                        channel=CHANNEL,
                        message=message,
                        predicate=vote_button(1),
                    )
                    acks.append(time.monotonic() - t0)
                    errors += response.status_code >= 500
                time.sleep(max(0.0, outage_s - (time.monotonic() - outage_started)))
            wait_for(lambda: votes(ws) >= len(messages), 120)
            per_item = votes_per_item(ws)
            lost = sum(
                1 for m in messages if per_item[m["metadata"]["event_payload"]["item_id"]] == 0
            )
            doubled = sum(k - 1 for k in per_item.values() if k > 1)
            told = [c.params.get("text", "") for c in standin.calls_to("chat.postEphemeral")]
        what = "SQLite locked 35 s" if proxy is None else "PostgreSQL cut 8 s"
        note = f"{what}; slowest ack {max(acks):.2f} s; {len(told)} notices"
        return Row(
            "clicks in an outage",
            kind,
            len(messages),
            lost,
            doubled,
            0,
            errors,
            time.monotonic() - started,
            note,
        )
    finally:
        ws.close()
        standin.reset()


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def votes(ws: Workspace) -> int:
    with ws.sessions.begin() as session:
        return int(
            session.scalar(select(func.count()).select_from(Review).where(Review.action == "vote"))
            or 0
        )


def votes_per_item(ws: Workspace) -> Counter[str]:
    with ws.sessions.begin() as session:
        rows = session.execute(
            select(Item.external_id, func.count(Review.id))
            .join(Review, Review.item_id == Item.id, isouter=True)
            .where((Review.action == "vote") | (Review.id.is_(None)))
            .group_by(Item.external_id)
        )
        return Counter({item: int(n) for item, n in rows})


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts: a smoke run")
    parser.add_argument(
        "--postgres", metavar="URL", default=os.environ.get("HITL_TEST_POSTGRES_URL")
    )
    parser.add_argument(
        "--only", nargs="*", choices=["slack", "kill", "fuzz", "clicks"], help="default: all"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs (prints where)")
    args = parser.parse_args()
    items = 200 if args.quick else 1000
    fuzzed = 1000 if args.quick else 10_000
    clicks = 10
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    rows: list[Row] = []
    t0 = time.monotonic()
    keep = tempfile.mkdtemp(prefix="hitl-chaos-") if args.keep else None
    with tempfile.TemporaryDirectory() as tmp_name, SlackStandin() as standin:
        tmp = Path(keep or tmp_name)
        if keep:
            print(f"logs in {keep}", file=sys.stderr)
        standin.add_channel(CHANNEL, "review")
        plan: list[tuple[str, str, Callable[[str], Row]]] = []
        for kind in kinds:
            plan.append(
                ("slack", kind, lambda url, k=kind: slack_failures(k, url, tmp, standin, items))
            )
            if kind == "sqlite":
                plan.append(
                    ("kill", kind, lambda url, k=kind: kill_serve(k, url, tmp, standin, items))
                )
            else:
                plan.append(
                    (
                        "kill",
                        kind,
                        lambda url, k=kind: two_of_each(k, url, tmp, standin, items, args.quick),
                    )
                )
            plan.append(("fuzz", kind, lambda url, k=kind: fuzz(k, url, fuzzed)))
            plan.append(
                ("clicks", kind, lambda url, k=kind: clicks_in_outage(k, url, tmp, standin, clicks))
            )
        for name, kind, run in plan:
            if args.only and name not in args.only:
                continue
            with database(kind, args.postgres, tmp) as url:
                row = run(url)
            rows.append(row)
            print(
                f"  … {row.scenario} on {row.database}: lost {row.lost}, doubled {row.doubled}, "
                f"stuck {row.stuck}, 5xx {row.http_5xx} ({row.seconds:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    head = ("scenario", "database", "n", "lost", "doubled", "stuck", "5xx", "s")
    print("{:<20} {:<10} {:>6} {:>5} {:>7} {:>5} {:>4} {:>5}  notes".format(*head))
    for r in rows:
        print(
            f"{r.scenario:<20} {r.database:<10} {r.n:>6} {r.lost:>5} {r.doubled:>7} {r.stuck:>5} "
            f"{r.http_5xx:>4} {r.seconds:>5.0f}  {r.note}"
        )
    total = sum(r.lost + r.doubled + r.stuck + r.http_5xx for r in rows)
    verdict = "every count 0" if total == 0 else f"{total} faults"
    print(f"total {time.monotonic() - t0:.0f} s; {verdict}")
    sys.exit(0 if total == 0 else 1)


if __name__ == "__main__":
    main()
