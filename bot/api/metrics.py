"""`GET /metrics` in the Prometheus text format, computed from the database so every web
process reports the same figures."""

from __future__ import annotations

from bot.context import AppContext
from storage.overview import queue_overviews


def render_metrics(ctx: AppContext) -> str:
    with ctx.sessions.begin() as session:
        overviews = queue_overviews(session=session, queues=list(ctx.config.queues))
    lines = [
        "# HELP hitl_items_total Items scored, by route.",
        "# TYPE hitl_items_total counter",
    ]
    for o in overviews.values():
        for route, n in o.routed.items():
            lines.append(f'hitl_items_total{{queue="{o.queue}",route="{route}"}} {n}')
    lines += ["# HELP hitl_answered_total Items answered.", "# TYPE hitl_answered_total counter"]
    lines += [f'hitl_answered_total{{queue="{o.queue}"}} {o.answered}' for o in overviews.values()]
    lines += ["# HELP hitl_messages Review messages, by state.", "# TYPE hitl_messages gauge"]
    for o in overviews.values():
        for state, n in (("waiting", o.waiting), ("open", o.open), ("failed", o.failed)):
            lines.append(f'hitl_messages{{queue="{o.queue}",state="{state}"}} {n}')
    return "\n".join(lines) + "\n"
