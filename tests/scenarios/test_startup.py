"""How `hitl serve` starts: only with a Slack it can talk to, checked at start, or explicitly on
the built-in stand-in; and commands that use Slack only on the side say so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import answered_items, config_toml, items_for, seed_model
from tests.scenarios.harness import ServeProcess, free_port, run_hitl, wait_until


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "hitl.toml"
    path.write_text(config_toml(fraud={"review_below": 1.0}))
    return path


def serve_once(
    database_url: str, config_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """`hitl serve ARGS` expected to stop by itself, with no Slack variable but those in env."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", *args],
        env={
            **inherited,
            "DATABASE_URL": database_url,
            "HITL_CONFIG": str(config_path),
            "PORT": str(free_port()),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    for needle in needles:
        assert needle in line


def test_without_a_bot_token_serve_stops_naming_the_variable(database_url, config_path):
    result = serve_once(database_url, config_path)
    assert_one_line(result, "SLACK_BOT_TOKEN", "--standin")
    assert result.stdout == ""


def test_a_wrong_token_stops_serve_at_start_in_one_line(database_url, config_path, standin):
    result = serve_once(
        database_url,
        config_path,
        SLACK_BOT_TOKEN="xoxb-not-the-right-one",
        SLACK_SIGNING_SECRET="secret",
        SLACK_API_URL=standin.api_url,
    )
    assert_one_line(result, "SLACK_BOT_TOKEN", "invalid_auth")
    assert [c.method for c in standin.calls] == ["auth.test"]


def test_an_unreachable_slack_stops_serve_at_start_in_one_line(database_url, config_path):
    nobody = f"http://127.0.0.1:{free_port()}/api/"
    result = serve_once(
        database_url,
        config_path,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="secret",
        SLACK_API_URL=nobody,
    )
    assert_one_line(result, "unreachable", nobody.removesuffix("api/"))


def test_standin_flag_serves_on_the_built_in_standin_and_health_says_so(
    database_url, config_path, sessions, tmp_path
):
    seed_model(sessions, "fraud")
    serve = ServeProcess(
        database_url=database_url,
        config_path=config_path,
        standin=None,
        log_path=tmp_path / "serve.log",
    )
    try:
        health = serve.http.get("/healthz")
        assert health.status_code == 200
        assert health.text.splitlines()[0] == "ok"
        assert "built-in stand-in" in health.text and "--standin" in health.text

        [item] = items_for(1)
        assert serve.post_items("fraud", [item]).status_code == 200
        wait_until(
            lambda: serve.get_item("fraud", item["id"])["message"]["state"] == "posted",
            what="the item posted to the built-in stand-in",
        )
    finally:
        serve.stop()
    log = serve.log()
    assert "WARNING" not in log and "Traceback" not in log, log


def test_serve_on_a_real_token_says_nothing_about_a_standin_and_has_no_warning(start_serve):
    serve = start_serve()
    health = serve.http.get("/healthz")
    assert health.text == "ok\n"
    log = serve.log()
    assert "WARNING" not in log, log  # e.g. Bolt's "`token` will be unused"
    assert "Slack: workspace Slack Stand-in" in log


def test_retrain_without_slack_warns_in_one_line(database_url, config_path, sessions, tmp_path):
    seed_model(sessions, "fraud")
    answered_items(sessions)  # something new to learn: the retrain makes a candidate to announce
    result = run_hitl(
        "retrain", "fraud", database_url=database_url, config_path=config_path, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "SLACK_BOT_TOKEN is not set" in warnings[0]
    assert result.stdout.splitlines()[-1].startswith(("promoted", "not promoted"))


def test_retrain_with_slack_unreachable_warns_in_one_line(
    database_url, config_path, sessions, tmp_path
):
    seed_model(sessions, "fraud")
    answered_items(sessions)  # something new to learn: the retrain makes a candidate to announce
    result = run_hitl(
        "retrain",
        "fraud",
        database_url=database_url,
        config_path=config_path,
        cwd=tmp_path,
        env={
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",
        },
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    problems = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line]
    assert len(problems) == 1 and "could not announce the retrain of fraud" in problems[0]
