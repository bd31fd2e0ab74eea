"""App Home and `/hitl stats` text: pure renderers of ``QueueOverview`` rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.mrkdwn import escape
from storage.overview import QueueOverview

MAX_HOME_BLOCKS = 100


def overview_line(o: QueueOverview) -> str:
    version = escape(o.model_version) if o.model_version else "no model yet"
    return (
        f"*{escape(o.queue)}* · model {version}\n"
        f"{o.items} items scored (review {o.routed['review']}, audit {o.routed['audit']}, "
        f"auto {o.routed['auto']}) · {o.answered} answered · {o.open} open in the channel · "
        f"{o.waiting} waiting to be posted" + (f" · {o.failed} failed to post" if o.failed else "")
    )


def home_view(overviews: Iterable[QueueOverview]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Review queues"}}
    ]
    for o in overviews:
        if len(blocks) >= MAX_HOME_BLOCKS - 1:
            break
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": overview_line(o)}})
    if len(blocks) == 1:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "No queues configured."}}
        )
    return {"type": "home", "blocks": blocks}
