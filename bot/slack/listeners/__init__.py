"""Bolt listeners, grouped by Slack surface; each group has ``register(app, ctx)``."""

from __future__ import annotations

from slack_bolt import App

from bot.context import AppContext
from bot.review.reviewers import ReviewerDirectory
from bot.slack.listeners import actions, commands, events, views
from bot.slack.listeners.after_ack import AfterAck


def register_listeners(app: App, ctx: AppContext, *, after: AfterAck | None = None) -> None:
    directory = ReviewerDirectory(ctx.client)
    after = after or AfterAck()
    actions.register(app, ctx, directory, after)
    views.register(app, ctx, after)
    events.register(app, ctx, directory, after)
    commands.register(app, ctx, directory, after)
