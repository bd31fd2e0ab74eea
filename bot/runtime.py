"""Assembling a process: settings → config → database (migrated) → Slack client → context."""

from __future__ import annotations

import logging
import sys

import numpy as np
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.config import HitlConfig, load_config
from bot.context import AppContext
from bot.settings import Settings
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade

SLACK_TIMEOUT_SECONDS = 10


def configure_logging(level: int = logging.INFO) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.basicConfig(
        level=level,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def slack_client(*, token: str, api_url: str) -> WebClient:
    # 429s are handled by the deliverer (it must not block a thread per message); only a
    # dropped connection is retried here.
    return WebClient(
        token=token,
        base_url=api_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )


def build_context(
    settings: Settings,
    *,
    config: HitlConfig | None = None,
    token: str | None = None,
    api_url: str | None = None,
    migrate: bool = True,
    seed: int | None = None,
) -> AppContext:
    """Everything a command needs. ``token``/``api_url`` override the settings (the stand-in)."""
    config = config or load_config(settings.hitl_config)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    bot_token = token or (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    )
    return AppContext(
        settings=settings,
        config=config,
        engine=engine,
        sessions=make_sessionmaker(engine),
        client=slack_client(token=bot_token, api_url=api_url or settings.slack_api_url),
        rng=np.random.default_rng(seed),
    )
