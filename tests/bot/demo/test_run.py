"""`hitl demo` end to end on a small slice of the real fraud data: it must stream, get every
posted message answered, retrain, and leave a database the digest can be read from."""

from __future__ import annotations

import re
from pathlib import Path

from bot.demo.run import DemoOptions, run_demo
from bot.digest.stats import queue_stats
from bot.runtime import build_context
from bot.settings import Settings


def test_a_small_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    summary = run_demo(
        DemoOptions(
            n_items=400, seed_size=400, retrain_every=200, workdir=tmp_path, seed=1, weeks=1
        )
    )
    assert "items streamed     400 through POST /v1/queues/fraud/items" in summary
    posted = int(re.search(r"messages posted +(\d+)", summary).group(1))  # type: ignore[union-attr]
    answers = re.search(r"answers recorded +(\d+) from (\d+) clicks", summary)
    assert answers is not None and posted > 0
    assert int(answers.group(1)) == int(answers.group(2)) == posted
    assert len(re.findall(r"^  retrain ", summary, flags=re.M)) == 2
    assert "weekly digest      posted to C0DEMOLEADS" in summary

    # The database it leaves is a real one: the figures the digest reads agree with the summary.
    ctx = build_context(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'hitl-demo.db'}",
            hitl_config=tmp_path / "hitl.toml",
        )
    )
    with ctx.sessions.begin() as session:
        stats = queue_stats(session=session, queue=ctx.config.queue("fraud"))
    assert stats["this_week"]["items"] == 400
    assert stats["this_week"]["answered"] == posted
    assert stats["backlog"] == 0


def test_a_small_tweets_demo_trains_on_both_labels_and_spans_weeks(tmp_path: Path) -> None:
    """The support-chatbot case: it failed at once when the sample kept the corpus's order
    (sorted by label), so the seed held one label only."""
    summary = run_demo(
        DemoOptions(
            dataset="tweets",
            n_items=150,
            seed_size=150,
            retrain_every=0,
            weeks=3,
            workdir=tmp_path,
            seed=2,
        )
    )
    assert "items streamed     150 through POST /v1/queues/tweets/items" in summary
    assert "laid out over the last 3 weeks" in summary
    ctx = build_context(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'hitl-demo.db'}",
            hitl_config=tmp_path / "hitl.toml",
        )
    )
    with ctx.sessions.begin() as session:
        stats = queue_stats(session=session, queue=ctx.config.queue("tweets"))
    weeks_with_items = [w for w in stats["history"] if w["answered"]]
    assert len(weeks_with_items) >= 3  # the chart has a line to draw, not one dot
    assert stats["this_week"]["items"] < 150
    assert set(stats["segments"]["airline"]) <= {
        "united",
        "americanair",
        "usairways",
        "southwestair",
        "jetblue",
        "virginamerica",
        "other",
    }
