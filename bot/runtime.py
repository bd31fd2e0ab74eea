"""Assembling a process: settings → config → database (migrated) → Slack client → context.

Which Slack a process talks to is checked here too, once, at start (``check_slack``): a wrong
token or an unreachable Slack is one line and exit code 2, not a traceback at the first click.
Commands that only use Slack on the side (announcing a retrain) warn in one line and go on.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.config import HitlConfig, load_config
from bot.context import AppContext
from bot.errors import ConfigError, HitlError, slack_error
from bot.settings import Settings
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade

SLACK_TIMEOUT_SECONDS = 10
#: Answers of ``auth.test`` that mean the token itself is wrong, not Slack.
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)

logger = logging.getLogger(__name__)


class SlackUnavailable(HitlError):
    """Slack cannot be reached, or answers ``auth.test`` with something other than a token
    error; the message names the URL and what happened."""


def configure_logging(level: int = logging.INFO) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Every failed Slack call is reported by the code that made it, naming what failed;
    # slack_sdk's own lines ("Failed to send a request…", "A retry handler found…") would say
    # it again, with a traceback. Kept with --verbose.
    if level > logging.DEBUG:
        logging.getLogger("slack_sdk.web.base_client").setLevel(logging.CRITICAL)
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


def describe_slack_failure(exc: BaseException) -> str:
    """A failed Slack call in a few words: Slack's error code, or what the network said."""
    if isinstance(exc, SlackApiError):
        return slack_error(exc)
    reason = getattr(exc, "reason", None)  # urllib's URLError carries the socket error here
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"


def check_slack(client: WebClient) -> dict[str, object]:
    """``auth.test`` with the process's client: its answer, or one line saying what is wrong."""
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = slack_error(exc)
        if error in TOKEN_ERRORS:
            raise ConfigError(
                f"SLACK_BOT_TOKEN: Slack at {client.base_url} refused it ({error})"
            ) from None
        raise SlackUnavailable(
            f"Slack at {client.base_url} answered auth.test with {error} (SLACK_API_URL)"
        ) from None
    except Exception as exc:
        raise SlackUnavailable(
            f"Slack is unreachable at {client.base_url} ({describe_slack_failure(exc)}); "
            "check SLACK_API_URL and the network"
        ) from None
    return dict(response.data) if isinstance(response.data, dict) else {}


def slack_on_the_side(settings: Settings, *, otherwise: str) -> bool:
    """For commands that only use Slack on the side: True when a bot token is set; without one,
    one warning line saying what will not happen (``otherwise``), and False."""
    if settings.slack_bot_token is None:
        logger.warning("SLACK_BOT_TOKEN is not set: %s", otherwise)
        return False
    return True
