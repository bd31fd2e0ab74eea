"""Bolt listeners, grouped by Slack surface; each group has ``register(app, ctx)``."""

from __future__ import annotations

from slack_bolt import App

from bot.context import AppContext
from bot.review.reviewers import ReviewerDirectory
from bot.slack.listeners import actions, commands, events, views


def register_listeners(app: App, ctx: AppContext) -> None:
    directory = ReviewerDirectory(ctx.client)
    actions.register(app, ctx, directory)
    views.register(app, ctx)
    events.register(app, ctx, directory)
    commands.register(app, ctx, directory)
