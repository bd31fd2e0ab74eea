"""The Bolt app factory: build, register listeners, return. Nothing starts here."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse

from bot.context import AppContext
from bot.errors import HitlError
from bot.slack.listeners import register_listeners
from bot.slack.listeners.after_ack import AfterAck

logger = logging.getLogger(__name__)
BOLT_LOGGER = "slack_bolt"


class _SameTokenTwice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment even when given a client, then warns
    that the token "will be unused": it is the very token of that client, so the warning says
    nothing at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "token` will be unused" not in record.getMessage()


def build_bolt_app(ctx: AppContext, *, signing_secret: str, after: AfterAck | None = None) -> App:
    """``after``: where listeners' work runs after their ack, and how long its database writes
    ride out a hiccup (by default a minute; tests pass their own, and wait for it at the end)."""
    bolt_logger = logging.getLogger(BOLT_LOGGER)
    if not any(isinstance(f, _SameTokenTwice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_SameTokenTwice())
    app = App(
        client=ctx.client,
        signing_secret=signing_secret,
        # Tokens are checked once at start by `auth.test` (the stand-in answers it too).
        token_verification_enabled=True,
        logger=bolt_logger,
    )

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        # The one place a listener failure is translated for the person who clicked.
        if not isinstance(error, HitlError):
            logger.exception("listener failed", exc_info=error)
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        channel = (body.get("container") or {}).get("channel_id") or body.get("channel_id")
        if user and channel:
            text = (
                str(error) if isinstance(error, HitlError) else "Sorry, that failed; it is logged."
            )
            try:
                ctx.client.chat_postEphemeral(channel=channel, user=user, text=text)
            except Exception:
                logger.exception("could not tell %s about the failure", user)
        return None

    register_listeners(app, ctx, after=after)
    return app
