"""Events API: App Home."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.context import AppContext
from bot.home import home_view
from storage.overview import queue_overviews


def register(app: App, ctx: AppContext) -> None:
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        with ctx.sessions.begin() as session:
            overviews = queue_overviews(session=session, queues=list(ctx.config.queues))
        client.views_publish(user_id=event["user"], view=home_view(overviews.values()))

    app.event("app_home_opened")(on_home_opened)
