"""The `hitl` command, invoked with click's CliRunner against a real throwaway database and a
queue config file, from a directory that is not the project's."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.api.item_views import label_rows
from bot.cli import main
from storage.db import make_engine, make_sessionmaker
from storage.items import get_item
from storage.migrate import is_up_to_date
from storage.registry import current_version, list_versions
from storage.reviews import record_vote
from storage.tables import Item, Prediction, TrainingExample
from tests.factories import cancer_rows, config_toml

Hitl = Callable[..., Result]
N_TRAIN_ROWS = 150
#: Environment variables that would change what the commands do if the shell running the tests
#: happened to set them.
UNSET = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "PORT")


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "hitl.toml"
    path.parent.mkdir()
    path.write_text(
        config_toml(
            fraud={"review_below": 0.95, "audit_rate": 0.5},
            chat={"kind": "text", "labels": ["good", "bad"]},
        )
    )
    return path


@pytest.fixture
def hitl(
    database_url: str, config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Hitl:
    """Run `hitl ARGS...`; the working directory is an empty one, not the project's."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    base_env: dict[str, str | None] = {name: None for name in UNSET}
    base_env |= {"DATABASE_URL": database_url, "HITL_CONFIG": str(config_path)}

    def run(*args: str, **env: str | None) -> Result:
        return CliRunner().invoke(main, list(args), env={**base_env, **env})

    return run


@pytest.fixture
def db(database_url: str) -> sessionmaker[Session]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def labelled_rows(start: int = 0, n: int = N_TRAIN_ROWS, label_column: str = "label") -> list[dict]:
    payloads, y = cancer_rows()
    return [{**payloads[i]["features"], label_column: y[i]} for i in range(start, start + n)]


def item_rows(start: int, n: int) -> list[dict[str, Any]]:
    payloads, _ = cancer_rows()
    return [{"id": f"x-{i}", **payloads[i]["features"]} for i in range(start, start + n)]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def refused(result: Result) -> str:
    """The one line a refused command prints; checks exit code 2 and no traceback."""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith("ingesting into ")  # the progress bar
    ]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert result.stdout == ""
    return lines[0]


def train(
    hitl: Hitl, tmp_path: Path, name: str = "train.csv", *flags: str, **kwargs: Any
) -> Result:
    path = str(write_csv(tmp_path / name, labelled_rows(**kwargs)))
    return ok(hitl("train", "fraud", path, *flags))


def version_lines(output: str) -> list[str]:
    """The lines of `hitl models` that start a version (the gate's figures are indented)."""
    return [line for line in output.splitlines() if line and not line[0].isspace()]


# ---------------------------------------------------------------- db upgrade


def test_db_upgrade_brings_an_empty_database_to_the_head(hitl, database_url):
    engine = make_engine(database_url)
    try:
        assert not is_up_to_date(engine)
        assert "up to date" in ok(hitl("db", "upgrade")).stdout
        assert is_up_to_date(engine)
        ok(hitl("db", "upgrade"))  # again: nothing to do, no error
        assert is_up_to_date(engine)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- train, models, rollback


def test_train_from_csv_stores_version_1_with_its_examples(hitl, db, tmp_path):
    result = train(hitl, tmp_path)
    n_holdout = round(N_TRAIN_ROWS * 0.2)
    assert f"trained fraud-v1 on {N_TRAIN_ROWS - n_holdout} rows" in result.stdout
    with db.begin() as session:
        [version] = list_versions(session=session, queue="fraud")
        assert (version.version, version.state) == ("fraud-v1", "current")
        assert version.n_train == N_TRAIN_ROWS - n_holdout
        accuracy = version.metrics["holdout"]["accuracy"]
        assert session.scalar(select(func.count()).select_from(TrainingExample)) == N_TRAIN_ROWS
    assert f"accuracy: {accuracy:.4f}" in result.stdout


def test_train_from_jsonl_with_another_label_column(hitl, db, tmp_path):
    rows = labelled_rows(start=100, n=120, label_column="truth")
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    ok(hitl("train", "fraud", str(path), "--label-column", "truth"))
    with db.begin() as session:
        version = current_version(session=session, queue="fraud")
        assert version is not None
        assert version.version == "fraud-v1"
        examples = session.scalars(select(TrainingExample).order_by(TrainingExample.id)).all()
    assert len(examples) == 120
    assert [e.label for e in examples] == [r["truth"] for r in rows]
    # the label column is not a feature
    assert all("truth" not in e.payload["features"] for e in examples)


def test_train_a_text_queue_from_jsonl(hitl, db, tmp_path):
    good = ["thanks that solved it", "great answer thanks", "perfect that works"]
    bad = ["this did not help", "wrong answer again", "useless reply"]
    rows = [{"text": t, "label": "good"} for t in good * 4] + [
        {"text": t, "label": "bad"} for t in bad * 4
    ]
    ok(hitl("train", "chat", str(write_jsonl(tmp_path / "chat.jsonl", rows))))
    with db.begin() as session:
        version = current_version(session=session, queue="chat")
        assert version is not None and version.kind == "text"


def test_models_lists_every_version_and_marks_the_current_one(hitl, db, tmp_path):
    assert "no model versions" in ok(hitl("models", "fraud")).stdout
    train(hitl, tmp_path)
    result = train(hitl, tmp_path, "more.csv", "--force", start=150)
    assert "trained fraud-v2" in result.stdout
    lines = version_lines(ok(hitl("models", "fraud")).stdout)
    with db.begin() as session:
        versions = list_versions(session=session, queue="fraud")
        current = current_version(session=session, queue="fraud")
    assert current is not None and current.version == "fraud-v2"
    assert len(lines) == len(versions) == 2
    assert [line.split()[0] for line in lines] == [v.version for v in versions]
    marked = [line.split()[0] for line in lines if line.split()[1] == "*"]
    assert marked == ["fraud-v2"]
    v1_line = lines[0]
    assert "retired" in v1_line and f"n_train={versions[0].n_train}" in v1_line
    assert f"accuracy={versions[0].metrics['holdout']['accuracy']:.4f}" in v1_line


def test_rollback_makes_the_old_version_score_new_items(hitl, db, tmp_path):
    train(hitl, tmp_path)
    train(hitl, tmp_path, "more.csv", "--force", start=150)
    items_a = write_csv(tmp_path / "a.csv", item_rows(300, 5))
    ok(hitl("ingest", "fraud", str(items_a)))

    assert "fraud-v1 is current" in ok(hitl("rollback", "fraud", "fraud-v1")).stdout
    output = ok(hitl("models", "fraud")).stdout
    lines = version_lines(output)
    assert [line.split()[:2] for line in lines[:2]] == [["fraud-v1", "*"], ["fraud-v2", "retired"]]
    assert "pinned to fraud-v1" in lines[2] and "hitl unpin fraud" in lines[2]

    items_b = write_csv(tmp_path / "b.csv", item_rows(305, 5))
    ok(hitl("ingest", "fraud", str(items_b)))
    with db.begin() as session:
        scored_by = dict(
            session.execute(
                select(Item.external_id, Prediction.model_version_id).join(Prediction)
            ).all()
        )
        by_id = {v.id: v.version for v in list_versions(session=session, queue="fraud")}
    assert {by_id[scored_by[f"x-{i}"]] for i in range(300, 305)} == {"fraud-v2"}
    assert {by_id[scored_by[f"x-{i}"]] for i in range(305, 310)} == {"fraud-v1"}


def flipped_rows(start: int, n: int) -> list[dict[str, Any]]:
    rows = labelled_rows(start=start, n=n)
    return [{**row, "label": "legit" if row["label"] == "fraud" else "fraud"} for row in rows]


def test_a_second_train_is_a_candidate_that_must_pass_the_gate(hitl, db, tmp_path):
    """Reported: a second `hitl train` made itself current without the gate."""
    train(hitl, tmp_path)
    with db.begin() as session:
        before = session.scalars(select(TrainingExample.payload)).all()
    wrong = write_csv(tmp_path / "wrong.csv", flipped_rows(150, 150))
    result = ok(hitl("train", "fraud", str(wrong)))
    assert "trained fraud-v2" in result.stdout
    assert "not promoted: " in result.stdout and "trusted_holdout" in result.stdout
    with db.begin() as session:
        assert current_version(session=session, queue="fraud").version == "fraud-v1"
        # A rejected file does not become the queue's labelled data.
        assert session.scalars(select(TrainingExample.payload)).all() == before
    output = ok(hitl("models", "fraud")).stdout
    assert "    gate trusted_holdout n=30: Brier " in output
    assert "    rejected: " in output
    forced = ok(hitl("train", "fraud", str(wrong), "--force"))
    assert "fraud-v3 is current (forced)" in forced.stdout
    with db.begin() as session:
        assert current_version(session=session, queue="fraud").version == "fraud-v3"


def test_rollback_pins_the_queue_until_unpin(hitl, db, tmp_path):
    train(hitl, tmp_path)
    train(hitl, tmp_path, "more.csv", "--force", start=150)
    pinned = ok(hitl("rollback", "fraud", "fraud-v1", "--by", "alice"))
    assert "pinned to it until `hitl unpin fraud`" in pinned.stdout
    assert ok(hitl("retrain", "fraud")).stdout.strip() == "not promoted: pinned to fraud-v1"
    again = ok(hitl("train", "fraud", str(write_csv(tmp_path / "x.csv", labelled_rows(start=300)))))
    assert again.stdout.strip() == "not promoted: pinned to fraud-v1"
    assert "no longer pinned to fraud-v1" in ok(hitl("unpin", "fraud")).stdout
    assert "was not pinned" in ok(hitl("unpin", "fraud")).stdout
    # Nothing new since the last candidate: no candidate (and no copy of the last one).
    assert ok(hitl("retrain", "fraud")).stdout.strip() == "not promoted: no new answers"
    with db.begin() as session:
        assert [v.version for v in list_versions(session=session, queue="fraud")] == [
            "fraud-v1",
            "fraud-v2",
        ]
        assert current_version(session=session, queue="fraud").version == "fraud-v1"


def test_rollback_to_an_unknown_version_changes_nothing(hitl, db, tmp_path):
    train(hitl, tmp_path)
    line = refused(hitl("rollback", "fraud", "fraud-v9"))
    assert "fraud-v9" in line
    # a version of another queue is not a version of this one
    assert "fraud-v1" in refused(hitl("rollback", "chat", "fraud-v1"))
    with db.begin() as session:
        assert current_version(session=session, queue="fraud").version == "fraud-v1"
        assert current_version(session=session, queue="chat") is None


def test_stats_prints_routes_and_an_unmeasured_accuracy_as_such(hitl, db, tmp_path):
    train(hitl, tmp_path)
    path = write_csv(tmp_path / "items.csv", item_rows(300, 30))
    ok(hitl("ingest", "fraud", str(path)))
    with db.begin() as session:
        routed = dict(
            session.execute(select(Prediction.route, func.count()).group_by(Prediction.route)).all()
        )
    lines = ok(hitl("stats", "fraud")).stdout.splitlines()
    assert lines[0] == "fraud · model fraud-v1"
    assert lines[1].startswith(
        f"items 30 (review {routed.get('review', 0)}, audit {routed.get('audit', 0)}, "
        f"auto {routed.get('auto', 0)})"
    )
    assert "accuracy of automatic decisions: not measured yet" in lines
    assert "unknown queue 'nope'" in refused(hitl("stats", "nope"))


# ---------------------------------------------------------------- ingest and export


def test_ingest_prints_a_routes_summary_that_matches_what_was_stored(hitl, db, tmp_path):
    train(hitl, tmp_path)
    path = write_csv(tmp_path / "items.csv", item_rows(300, 60))
    result = ok(hitl("ingest", "fraud", str(path), "--batch-size", "25"))
    with db.begin() as session:
        routed = dict(
            session.execute(select(Prediction.route, func.count()).group_by(Prediction.route)).all()
        )
    summary = result.stdout.strip().splitlines()[-1]
    expected = (
        f"60 items: {routed.get('review', 0)} review, {routed.get('audit', 0)} audit, "
        f"{routed.get('auto', 0)} auto"
    )
    assert summary == expected
    assert sum(routed.values()) == 60
    # idempotent on id: the same file again adds nothing and answers the same routes
    assert ok(hitl("ingest", "fraud", str(path))).stdout.strip().splitlines()[-1] == expected
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 60


def test_ingest_off_a_terminal_reports_progress_in_lines(hitl, db, tmp_path, monkeypatch):
    """Not on a terminal (CliRunner's output is not one), a line every EVERY_SECONDS, here
    every batch, and a last one: click's bar would print nothing until the end."""
    monkeypatch.setattr("bot.progress.EVERY_SECONDS", 0.0)
    train(hitl, tmp_path)
    path = write_csv(tmp_path / "items.csv", item_rows(300, 60))
    result = ok(hitl("ingest", "fraud", str(path), "--batch-size", "25"))
    lines = [line for line in result.stderr.splitlines() if line.startswith("ingesting into")]
    assert lines[:3] == [
        "ingesting into fraud: 25 of 60 (42%)",
        "ingesting into fraud: 50 of 60 (83%)",
        "ingesting into fraud: 60 of 60 (100%)",
    ]
    assert re.fullmatch(r"ingesting into fraud: 60 of 60 \(100%\) in \d+ s", lines[-1])


def test_ingest_keeps_context_and_ignored_columns_out_of_the_features(hitl, db, tmp_path):
    train(hitl, tmp_path)
    rows = [
        {**row, "merchant": f"shop {n}", "label": "fraud"}
        for n, row in enumerate(item_rows(300, 3))
    ]
    path = write_csv(tmp_path / "items.csv", rows)
    args = ["--context-column", "merchant", "--ignore-column", "label"]
    ok(hitl("ingest", "fraud", str(path), *args))
    with db.begin() as session:
        item = get_item(session=session, queue="fraud", external_id="x-301")
    assert item.context == {"merchant": "shop 1"}
    assert "merchant" not in item.payload["features"]
    assert "label" not in item.payload["features"]
    assert item.payload["features"]["mean_radius"] == rows[1]["mean_radius"]


def test_ingest_without_a_model_is_refused_naming_hitl_train(hitl, db, tmp_path):
    path = write_csv(tmp_path / "items.csv", item_rows(300, 3))
    assert "hitl train fraud" in refused(hitl("ingest", "fraud", str(path)))
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0


@pytest.mark.parametrize(
    ("row", "fragment"),
    [({"id": "x" * 300}, "id"), ({"id": "r-2", "text": "y" * 40_001}, "text")],
    ids=["id-too-long", "text-too-long"],
)
def test_ingest_of_an_item_the_api_would_refuse_names_it(hitl, db, tmp_path, row, fragment):
    good = ["thanks that solved it", "great answer thanks", "perfect that works"]
    bad = ["this did not help", "wrong answer again", "useless reply"]
    labelled = [{"text": t, "label": "good"} for t in good * 4] + [
        {"text": t, "label": "bad"} for t in bad * 4
    ]
    ok(hitl("train", "chat", str(write_jsonl(tmp_path / "chat.jsonl", labelled))))
    rows = [{"id": "r-1", "text": "fine, thanks"}, {"text": "hello", **row}]
    line = refused(hitl("ingest", "chat", str(write_jsonl(tmp_path / "in.jsonl", rows))))
    assert "in.jsonl" in line and "line 2" in line and fragment in line
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0


def test_export_prints_the_resolved_labels_as_json_lines(hitl, db, tmp_path):
    train(hitl, tmp_path)
    ok(hitl("ingest", "fraud", str(write_csv(tmp_path / "items.csv", item_rows(300, 6)))))
    assert ok(hitl("export", "fraud")).stdout == ""
    with db.begin() as session:
        for n, label in enumerate(["fraud", "legit"]):
            item = get_item(session=session, queue="fraud", external_id=f"x-30{n}")
            record_vote(
                session=session,
                item_pk=item.id,
                user_id="U0ANALYST",
                label=label,
                request_key=f"k{n}",
                votes_required=1,
            )
    exported = [json.loads(line) for line in ok(hitl("export", "fraud")).stdout.splitlines()]
    assert [(r["id"], r["label"]) for r in exported] == [("x-300", "fraud"), ("x-301", "legit")]
    assert exported == list(label_rows(db, queue="fraud"))


# ---------------------------------------------------------------- refused inputs


@pytest.mark.parametrize(
    "args",
    [
        ["train", "nope", "{csv}"],
        ["ingest", "nope", "{csv}"],
        ["models", "nope"],
        ["rollback", "nope", "nope-v1"],
        ["export", "nope"],
    ],
    ids=lambda args: args[0],
)
def test_an_unknown_queue_is_one_line_and_exit_2(hitl, tmp_path, args):
    path = write_csv(tmp_path / "x.csv", labelled_rows(n=20))
    line = refused(hitl(*[a.replace("{csv}", str(path)) for a in args]))
    assert "unknown queue 'nope'" in line


def test_a_label_outside_the_queue_labels_names_its_line(hitl, db, tmp_path):
    rows = labelled_rows(n=20)
    rows[5]["label"] = "maybe"  # line 7: the header is line 1
    line = refused(hitl("train", "fraud", str(write_csv(tmp_path / "t.csv", rows))))
    assert "t.csv line 7" in line and "'maybe'" in line and "legit" in line
    with db.begin() as session:
        assert list_versions(session=session, queue="fraud") == []


@pytest.mark.parametrize("command", ["train", "ingest"])
def test_a_missing_file_is_one_line_naming_it(hitl, tmp_path, command):
    missing = tmp_path / "nowhere" / "data.csv"
    line = refused(hitl(command, "fraud", str(missing)))
    assert str(missing) in line


def test_an_unsupported_file_type_is_one_line(hitl, tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("label\nfraud\n")
    assert "data.xlsx" in refused(hitl("train", "fraud", str(path)))


def test_too_few_rows_to_train_is_one_line(hitl, db, tmp_path):
    line = refused(hitl("train", "fraud", str(write_csv(tmp_path / "t.csv", labelled_rows(n=5)))))
    assert "at least" in line


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (config_toml(fraud={"channel": "#general"}), "queues.fraud.channel"),
        (config_toml(fraud={"labels": ["fraud"]}), "queues.fraud.labels"),
        (config_toml(fraud={"retrain": "every day"}), "queues.fraud.retrain"),
        ('[queues.fraud]\nkind = "tabular"\n', "queues.fraud.channel"),
        ("[queues.fraud\n", "not valid TOML"),
    ],
    ids=["channel", "labels", "retrain", "missing-field", "not-toml"],
)
def test_a_bad_config_file_is_one_line_naming_the_field(hitl, config_path, text, field):
    config_path.write_text(text)
    line = refused(hitl("models", "fraud"))
    assert field in line
    assert str(config_path) in line


def test_a_missing_config_file_names_hitl_config(hitl, tmp_path):
    line = refused(hitl("models", "fraud", HITL_CONFIG=str(tmp_path / "none.toml")))
    assert "none.toml" in line and "HITL_CONFIG" in line


@pytest.mark.parametrize(
    ("env", "name"),
    [({"PORT": "0"}, "PORT"), ({"PORT": "http"}, "PORT"), ({"SLACK_API_URL": "slack"}, "SLACK")],
)
def test_a_bad_environment_is_one_line_naming_the_variable(hitl, env, name):
    line = refused(hitl("models", "fraud", **env))
    assert line.startswith(f"error: {name}")


# ---------------------------------------------------------------- help


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
    return found


EVERY_COMMAND = _commands(main)


@pytest.mark.parametrize("path", [(), *EVERY_COMMAND], ids=lambda p: " ".join(p) or "hitl")
def test_every_command_has_help(hitl, path):
    result = ok(hitl(*path, "--help"))
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert result.stdout.startswith("Usage:")
    first_words = " ".join((command.help or "").split()[:6])
    assert first_words and first_words in " ".join(result.stdout.split())


def test_config_check_reads_hitl_config_and_names_its_queues(hitl, config_path):
    result = ok(hitl("config", "check"))
    assert result.stdout.strip() == f"{config_path}: valid, 2 queue(s): fraud, chat"


def test_config_check_of_a_bad_file_names_the_field(hitl, tmp_path):
    bad = tmp_path / "next.toml"
    bad.write_text(config_toml(fraud={"audit_rate": 2}))
    line = refused(hitl("config", "check", str(bad)))
    assert line.startswith(f"error: {bad}: queues.fraud.audit_rate: ")
    assert "not found" in refused(hitl("config", "check", str(tmp_path / "none.toml")))
