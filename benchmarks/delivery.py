"""Delivery throughput: how many review messages a second `hitl serve`'s deliverer posts to a
Slack stand-in that never rate-limits, against the raw rate of chat.postMessage calls from one
client in the same run (the baseline). Prints a table.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.delivery [--messages 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bot.review.delivery import Deliverer
from bot.review.ingest import ingest, parse_batch
from bot.runtime import build_context, slack_client
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from tests.factories import items_for, make_config, seed_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    n = args.messages
    with tempfile.TemporaryDirectory() as tmp, SlackStandin() as standin:
        config = make_config(fraud={"review_below": 1.0, "max_open": n + 1})
        ctx = build_context(
            Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}"),
            config=config,
            token=standin.bot_token,
            api_url=standin.api_url,
        )
        seed_model(ctx.sessions)
        queue = config.queue("fraud")
        for start in range(0, n, 500):
            batch = items_for(min(500, n - start), prefix=f"b{start}")
            ingest(ctx, queue=queue, items=parse_batch({"items": batch}, queue=queue))

        client = slack_client(token=standin.bot_token, api_url=standin.api_url)
        t0 = time.perf_counter()
        for i in range(n):
            client.chat_postMessage(channel="C0REVIEW", text=f"baseline {i}")
        baseline = n / (time.perf_counter() - t0)

        deliverer = Deliverer(ctx)
        t0 = time.perf_counter()
        posted = 0
        while posted < n:
            done = deliverer.run_once()
            if done == 0:
                break
            posted += done
        rate = posted / (time.perf_counter() - t0)

    print(f"{'what':<44} {'messages':>8} {'per second':>10} {'ratio':>6}")
    print(f"{'raw chat.postMessage, one client (baseline)':<44} {n:>8} {baseline:>10.0f} {1:>6.2f}")
    print(
        f"{'deliverer: claim, render, post, record':<44} {posted:>8} {rate:>10.0f} "
        f"{rate / baseline:>6.2f}"
    )


if __name__ == "__main__":
    main()
