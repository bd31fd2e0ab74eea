"""`hitl serve`: the web process (HTTP or Socket Mode) with its deliverer thread."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from contextlib import ExitStack
from types import FrameType

import uvicorn

from bot.api.app import build_web_app
from bot.errors import ConfigError
from bot.live_config import watch_config
from bot.review.delivery import Deliverer
from bot.runtime import build_context, check_slack
from bot.settings import Settings
from bot.slack.app import build_bolt_app

logger = logging.getLogger(__name__)

STANDIN_SIGNING_SECRET = "standin-signing-secret"


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def serve(
    settings: Settings, *, socket_mode: bool = False, host: str = "0.0.0.0", standin: bool = False
) -> None:
    """Run `hitl serve` until SIGTERM. ``standin``: talk to the built-in Slack stand-in and
    ignore the Slack variables; otherwise SLACK_BOT_TOKEN is required and checked at start."""
    if not standin and settings.slack_bot_token is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set: give the bot token of your Slack app, or run "
            "`hitl serve --standin` to use the built-in Slack stand-in"
        )
    # uvicorn handles SIGTERM itself (graceful HTTP shutdown), then raises it again once done,
    # with the handler that was in place before: with Python's default, the process would die
    # there and the clean-up below (stop the deliverer, close Socket Mode, stop the stand-in)
    # would never run. A platform stopping a dyno sends SIGTERM; it gets exit status 0.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with ExitStack() as stack:
        token, api_url, app_token = None, None, None
        signing_secret = (
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else None
        )
        standin_url = None
        if standin:
            from bot.slack_standin.server import SlackStandin

            server = stack.enter_context(SlackStandin())
            token, api_url, app_token = server.bot_token, server.api_url, server.app_token
            signing_secret = signing_secret or STANDIN_SIGNING_SECRET
            standin_url = api_url
        elif signing_secret is None and not socket_mode:
            raise ConfigError("SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN")
        if socket_mode:
            if not standin and settings.slack_app_token is not None:
                app_token = settings.slack_app_token.get_secret_value()
            if app_token is None:
                raise ConfigError("SLACK_APP_TOKEN: required for --socket-mode")

        ctx = build_context(settings, token=token, api_url=api_url)
        identity = check_slack(ctx.client)  # a wrong token or no Slack: one line, exit 2
        # From here on the process runs: what it says goes to the log.
        stack.callback(logger.info, "hitl serve stopped")  # runs last: everything below is shut
        if standin_url is not None:
            logger.info("--standin: Slack is the built-in stand-in at %s", standin_url)
        else:
            logger.info("Slack: workspace %s, bot %s", identity.get("team"), identity.get("user"))
        if settings.hitl_api_token is None:
            logger.warning("HITL_API_TOKEN is not set: the /v1 API refuses every call")
        watcher = watch_config(ctx).start()  # hitl.toml changes apply without a restart
        stack.callback(watcher.stop)
        watcher.reload_on_sighup()
        bolt = build_bolt_app(ctx, signing_secret=signing_secret or "")
        deliverer = Deliverer(ctx)
        stop = threading.Event()
        worker = threading.Thread(target=deliverer.run_forever, args=(stop,), name="deliverer")
        worker.start()
        stack.callback(worker.join)
        stack.callback(stop.set)
        web = build_web_app(
            ctx,
            bolt,
            delivery_alive=lambda: deliverer.alive,
            standin_url=standin_url,
            signing_secret=signing_secret or "",
        )

        if socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            assert app_token is not None
            handler = SocketModeHandler(bolt, app_token)
            handler.connect()
            stack.callback(handler.close)
        logger.info("serving on %s:%s", host, settings.port)
        uvicorn.run(web, host=host, port=settings.port, log_level="warning")
