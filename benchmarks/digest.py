"""Digest figures on a large queue: how long `digest_figures` (the weekly digest, and every
`GET /v1/queues/{queue}/stats`) takes as a queue grows, against a plain `COUNT(*)` of the
queue's items in the same run (the baseline). Prints a table.

Items are spread evenly over the 12 weeks the digest reads, 10% of them answered, a tenth of
those audits; the rows are synthetic (only their timestamps, routes and labels matter here).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.digest [--sizes 10000 50000 200000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

SQLite runs in a temporary file; ``--postgres`` runs in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.figures import HISTORY_WEEKS, WEEK, digest_figures
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.tables import Item, ModelVersion, Prediction
from tests.factories import make_config, placeholder_version

QUEUE = make_config(fraud={"votes_required": 1}).queue("fraud")


def fill(sessions: sessionmaker[Session], n: int, now: datetime, rng: random.Random) -> None:
    with sessions.begin() as session:
        session.execute(delete(Prediction))
        session.execute(delete(Item))
        session.execute(delete(ModelVersion))
        version_id = placeholder_version(session)
        rows = []
        for i in range(n):
            created = now - WEEK * HISTORY_WEEKS * rng.random()
            answered = rng.random() < 0.1
            rows.append(
                {
                    "queue": "fraud",
                    "external_id": f"x{i}",
                    "payload": {},
                    "context": {},
                    "created_at": created,
                    "resolved_at": created + timedelta(hours=1) if answered else None,
                    "resolved_label": rng.choice(["legit", "fraud"]) if answered else None,
                }
            )
        session.execute(insert(Item), rows)
        ids = session.scalars(select(Item.id).order_by(Item.id)).all()
        session.execute(
            insert(Prediction),
            [
                {
                    "item_id": pk,
                    "model_version_id": version_id,
                    "label": "legit",
                    "confidence": 0.9,
                    "route": "audit" if row["resolved_at"] and rng.random() < 0.1 else "review",
                    "audit_probability": 0.02,
                    "scored_at": row["created_at"],
                }
                for pk, row in zip(ids, rows, strict=True)
            ],
        )


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    """A throwaway database URL: a temporary SQLite file, or a new PostgreSQL schema."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres).set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="measure PostgreSQL (a new schema)")
    args = parser.parse_args()
    with database(args.postgres) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        now, rng = datetime.now(UTC), random.Random(0)
        print(f"database: {engine.dialect.name}; best of {args.runs} runs")
        print(f"{'items':>9}  {'COUNT(*) ms':>11}  {'digest ms':>9}  {'ratio':>6}")
        for n in args.sizes:
            fill(sessions, n, now, rng)

            def count() -> None:
                with sessions.begin() as session:
                    session.scalar(select(func.count()).where(Item.queue == "fraud"))

            def digest() -> None:
                with sessions.begin() as session:
                    digest_figures(session=session, queue=QUEUE, now=now)

            base, figures = best_of(args.runs, count), best_of(args.runs, digest)
            print(f"{n:>9,}  {base * 1000:>11.1f}  {figures * 1000:>9.1f}  {figures / base:>6.1f}")
        engine.dispose()


if __name__ == "__main__":
    main()
