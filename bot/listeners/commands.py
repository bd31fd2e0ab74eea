"""The `/hitl` slash command. Acknowledged at once; the answer goes to ``respond``."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.context import AppContext
from bot.home import overview_line
from bot.mrkdwn import escape
from storage.overview import queue_overviews

USAGE = "*Usage:* `/hitl stats [queue]` — figures of a queue (or all) · `/hitl help` — this text"


def register(app: App, ctx: AppContext) -> None:
    def on_hitl(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        words = (command.get("text") or "").split()
        sub, args = (words[0].lower(), words[1:]) if words else ("help", [])
        if sub == "stats":
            queues = args or list(ctx.config.queues)
            unknown = [q for q in queues if q not in ctx.config.queues]
            if unknown:
                known = ", ".join(ctx.config.queues)
                respond(f"Unknown queue `{escape(unknown[0])}`. Queues: {known}.\n{USAGE}")
                return
            with ctx.sessions.begin() as session:
                overviews = queue_overviews(session=session, queues=queues)
            respond("\n\n".join(overview_line(o) for o in overviews.values()))
            return
        prefix = "" if sub == "help" else f"Unknown subcommand `{escape(sub)}`.\n"
        respond(prefix + USAGE)

    app.command("/hitl")(on_hitl)
