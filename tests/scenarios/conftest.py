"""Scenario fixtures: a Slack stand-in, a trained queue and a running `hitl serve`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.slack_standin.server import SlackStandin
from tests.factories import config_toml, seed_model
from tests.scenarios.harness import ServeProcess

CHANNEL = "C0REVIEW"


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        server.add_channel(CHANNEL, "fraud-review")
        yield server


@pytest.fixture
def start_serve(
    database_url: str, sessions: sessionmaker[Session], standin: SlackStandin, tmp_path: Path
) -> Iterator[Callable[..., ServeProcess]]:
    """Start `hitl serve` (``socket_mode=True``: `--socket-mode`) with queues given as keyword
    arguments (see ``config_toml``); every queue gets a first model."""
    running: list[ServeProcess] = []

    def start(*, socket_mode: bool = False, **queues: dict[str, Any]) -> ServeProcess:
        queues = queues or {"fraud": {}}
        config = tmp_path / "hitl.toml"
        config.write_text(config_toml(**queues))
        for name in queues:
            seed_model(sessions, name)
        serve = ServeProcess(
            database_url=database_url,
            config_path=config,
            standin=standin,
            log_path=tmp_path / f"serve-{len(running)}.log",
            socket_mode=socket_mode,
        )
        running.append(serve)
        return serve

    yield start
    for serve in running:
        serve.stop()
