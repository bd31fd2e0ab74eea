"""`hitl demo` end to end on a small slice of the real fraud data: it must stream, get every
posted message answered, retrain, and leave a database the digest can be read from."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.demo.run import METRICS_FILE, DemoOptions, run_demo
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
    routes = ("review", "audit", "auto")
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

    # The command it prints works as pasted into a fresh shell: no venv activated, no `hitl` on
    # PATH, another directory.
    [command] = re.findall(r"^ +(DATABASE_URL=.* digest --dry-run)$", summary, flags=re.M)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = subprocess.run(
        ["bash", "-c", command],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg"},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Weekly digest of fraud" in shown.stdout

    # The metric families a Prometheus scraping the demo's `hitl serve` saw at the end.
    families = {
        family.name: family
        for family in text_string_to_metric_families((tmp_path / METRICS_FILE).read_text())
    }
    expected = {
        "hitl_items": "counter",
        "hitl_answered": "counter",
        "hitl_messages": "gauge",
        "hitl_outbox_depth": "gauge",
        "hitl_oldest_waiting_seconds": "gauge",
        "hitl_time_to_answer_seconds": "histogram",
        "hitl_model_version_info": "gauge",  # an info metric, in the text format
        "hitl_http_request_duration_seconds": "histogram",
        "hitl_delivery_errors": "counter",
        "hitl_missing_feature_warnings": "counter",
        "hitl_database_up": "gauge",
        "process_cpu_seconds": "counter",
        "process_resident_memory_bytes": "gauge",
        "python_info": "gauge",
    }
    assert {name: families[name].type for name in expected if name in families} == expected

    def value(name: str, **labels: str) -> float:
        [found] = [
            s.value
            for family in families.values()
            for s in family.samples
            if s.name == name and s.labels == labels
        ]
        return found

    assert sum(value("hitl_items_total", queue="fraud", route=r) for r in routes) == 400
    assert value("hitl_answered_total", queue="fraud") == posted
    assert value("hitl_time_to_answer_seconds_count", queue="fraud") == posted
    assert value("hitl_outbox_depth", queue="fraud") == 0
    last = re.findall(r"promoted (fraud-v\d+)", summary)[-1]
    assert value("hitl_model_version_info", queue="fraud", version=last) == 1
    posts = value(
        "hitl_http_request_duration_seconds_count",
        method="POST",
        route="/v1/queues/{queue}/items",
        status="200",
    )
    assert posts == 4  # 400 items in batches of 100


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
