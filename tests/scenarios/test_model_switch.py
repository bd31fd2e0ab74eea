"""A new version or a rollback reaches every running `hitl serve` at once.

Two `hitl serve` processes share one database, as the design's stateless web processes do. The
version is changed from outside both, by the real `hitl` command in a process of its own; the very
next items either serve scores must carry the new version, and their predictions must be those of
a fresh load of that version's artifact. Nothing is timed: "at once" is the very next request.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.slack_standin.server import SlackStandin
from models.artifacts import load_pipeline
from models.pipelines import score
from storage.registry import get_version
from tests.factories import cancer_rows, items_for
from tests.scenarios.harness import ServeProcess, run_hitl

#: Everything is decided automatically: the Slack side is not what this scenario is about.
QUIET = {"review_below": 0.0, "audit_rate": 0.0}
PROBES = 8  # rows the seed model did not see, scored again under every version


@pytest.fixture
def serves(
    start_serve: Callable[..., ServeProcess],
    database_url: str,
    standin: SlackStandin,
    tmp_path: Path,
) -> Iterator[list[ServeProcess]]:
    """Two `hitl serve` processes on one database; the queue's first model is fraud-v1."""
    first = start_serve(fraud=QUIET)  # writes tmp_path/hitl.toml and seeds fraud-v1
    second = ServeProcess(
        database_url=database_url,
        config_path=tmp_path / "hitl.toml",
        standin=standin,
        log_path=tmp_path / "serve-second.log",
    )
    try:
        yield [first, second]
    finally:
        second.stop()


def hitl(database_url: str, tmp_path: Path, *args: str) -> str:
    """Run the real `hitl ARGS...` in a process of its own; its stdout."""
    done = run_hitl(
        *args, database_url=database_url, config_path=tmp_path / "hitl.toml", cwd=tmp_path
    )
    assert done.returncode == 0, f"hitl {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return done.stdout


def current_mark(models_output: str) -> list[str]:
    """The versions `hitl models` marks as current (`<version>\\t* current\\t...`)."""
    rows = [line.split() for line in models_output.splitlines()]
    return [row[0] for row in rows if row[1:3] == ["*", "current"]]


def write_training_csv(path: Path, start: int, n: int) -> Path:
    payloads, y = cancer_rows()
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*payloads[0]["features"], "label"])
        writer.writeheader()
        for i in range(start, start + n):
            writer.writerow({**payloads[i]["features"], "label": y[i]})
    return path


def post_probes(serve: ServeProcess, prefix: str) -> list[dict[str, Any]]:
    response = serve.post_items("fraud", items_for(PROBES, prefix=prefix))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def fresh_scores(sessions: sessionmaker[Session], version: str) -> list[tuple[str, float]]:
    """The probes scored by a pipeline loaded afresh from ``version``'s stored artifact."""
    with sessions.begin() as session:
        row = get_version(session=session, queue="fraud", version=version)
        pipeline = load_pipeline(row.artifact, expected_sha256=row.sha256)
    payloads = [{"features": item["features"]} for item in items_for(PROBES)]
    return [(p.label, p.confidence) for p in score(pipeline, "tabular", payloads)]


def assert_scored_by(
    answers: list[dict[str, Any]], version: str, expected: list[tuple[str, float]]
) -> None:
    assert {a["model_version"] for a in answers} == {version}
    assert [a["label"] for a in answers] == [label for label, _ in expected]
    assert [a["confidence"] for a in answers] == pytest.approx(
        [confidence for _, confidence in expected], abs=1e-12
    )


def test_every_serve_scores_with_the_version_the_command_just_made_current(
    serves, sessions, database_url, tmp_path
):
    v1 = fresh_scores(sessions, "fraud-v1")
    # Each serve scores (and so loads and caches) fraud-v1 first.
    for n, serve in enumerate(serves):
        assert_scored_by(post_probes(serve, f"a{n}"), "fraud-v1", v1)

    # `hitl train` stores a new model and makes it current, from outside both serves.
    csv_path = write_training_csv(tmp_path / "train.csv", start=0, n=120)
    assert "trained fraud-v2" in hitl(database_url, tmp_path, "train", "fraud", str(csv_path))
    assert current_mark(hitl(database_url, tmp_path, "models", "fraud")) == ["fraud-v2"]
    v2 = fresh_scores(sessions, "fraud-v2")
    # The probes can tell the two versions apart.
    assert max(abs(a[1] - b[1]) for a, b in zip(v1, v2, strict=True)) > 1e-3
    for n, serve in enumerate(serves):
        assert_scored_by(post_probes(serve, f"b{n}"), "fraud-v2", v2)

    # `hitl rollback` back to fraud-v1: the next items are scored by fraud-v1 again, exactly.
    assert "fraud-v1 is current" in hitl(database_url, tmp_path, "rollback", "fraud", "fraud-v1")
    assert current_mark(hitl(database_url, tmp_path, "models", "fraud")) == ["fraud-v1"]
    for n, serve in enumerate(serves):
        assert_scored_by(post_probes(serve, f"c{n}"), "fraud-v1", v1)

    # An item already scored keeps the version that scored it (the answer is idempotent).
    [again] = serves[0].post_items("fraud", items_for(1, prefix="b0")).json()["items"]
    assert again["model_version"] == "fraud-v2"
