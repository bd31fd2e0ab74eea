"""What explaining costs: scoring a 1,000-item batch with its explanations (the strongest
contributions of each prediction, as ingestion stores them) against scoring it alone, in the
same run, on both queue kinds and real data (the ULB card transactions, the airline tweets).
The budget is 20% more than scoring alone.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.explanations [--repeats 15]

Each figure is the fastest of ``--repeats`` timed runs of the same batch (the two alternate):
on a machine shared with other work, the fastest run is the one least disturbed by it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from models.datasets import airline_sentiment, credit_card_fraud
from models.evaluation import fit
from models.pipelines import Kind, score, score_explained

BATCH = 1000
BUDGET = 1.20


def _fastest_seconds(runs: list[Callable[[], Any]], repeats: int) -> list[float]:
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for i, run in enumerate(runs):
            started = time.perf_counter()
            run()
            times[i].append(time.perf_counter() - started)
    return [min(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    fraud = credit_card_fraud(n=4000, random_state=0)
    tweets = airline_sentiment(n=4000, random_state=0)
    rows = []
    for name, data in (("credit_card_fraud", fraud), ("airline_sentiment", tweets)):
        kind: Kind = data.kind
        train, batch = data.payloads[:-BATCH], data.payloads[-BATCH:]
        pipeline = fit(kind, train, data.y[:-BATCH])
        alone, explained = _fastest_seconds(
            [
                partial(score, pipeline, kind, batch),
                # as ingestion calls it: the contributions a card shows, kept with the prediction
                partial(score_explained, pipeline, kind, batch),
            ],
            args.repeats,
        )
        rows.append((name, kind, alone * 1000, explained * 1000, explained / alone))
    print(
        f"{'data set':<18}  {'kind':<7}  {'items':>5}  {'score ms':>8}  {'+ explain ms':>12}  ratio"
    )
    for name, kind, alone_ms, explained_ms, ratio in rows:
        verdict = "ok" if ratio <= BUDGET else f"over the {BUDGET:.2f} budget"
        print(
            f"{name:<18}  {kind:<7}  {BATCH:>5}  {alone_ms:>8.1f}  {explained_ms:>12.1f}"
            f"  {ratio:.2f} ({verdict})"
        )


if __name__ == "__main__":
    main()
