"""`hitl demo` end to end on a small slice of the real fraud data: it must stream, get every
posted message answered, retrain, and leave a database the digest can be read from."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bot.demo.run import DemoOptions, run_demo
from bot.digest.stats import queue_stats
from bot.runtime import build_context
from bot.settings import Settings


def test_a_small_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    summary = run_demo(
        DemoOptions(n_items=400, seed_size=400, retrain_every=200, workdir=tmp_path, seed=1)
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
