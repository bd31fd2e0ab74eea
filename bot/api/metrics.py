"""`GET /metrics` in the Prometheus text format, with prometheus_client.

Two sources, on purpose. What every `hitl serve` process shares is read from the database at
scrape time (``DatabaseCollector``): items by queue and route, answers, time to answer, the
outbox, the oldest item waiting, the current model version; any one process answers truthfully
for all, however many run behind a load balancer. What a process does itself (HTTP requests,
posts Slack refused, missing-feature warnings) is counted where it happens
(``bot.instruments``), with prometheus_client's process metrics; Prometheus sums those.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.context import AppContext
from bot.instruments import HTTP_REQUEST_SECONDS
from storage.metrics_data import answer_times, oldest_unanswered
from storage.overview import queue_overviews
from storage.tables import utcnow

logger = logging.getLogger(__name__)

#: Time to answer, seconds: 10 s to a week, the range between a watched channel and a
#: forgotten one.
ANSWER_BUCKETS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


class DatabaseCollector(Collector):
    """The shared state of the loop, read at each scrape (a handful of grouped queries)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hitl_database_up", "1 if the figures below could be read.")
        try:
            families = self._families()
        except SQLAlchemyError as exc:
            logger.warning("metrics: database unreachable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list[Metric]:
        queues = list(self.ctx.config.queues)
        with self.ctx.sessions.begin() as session:
            overviews = queue_overviews(session=session, queues=queues)
            oldest = oldest_unanswered(session=session, queues=queues)
            times = answer_times(session=session, queues=queues, bounds=ANSWER_BUCKETS)
        now = utcnow()

        items = CounterMetricFamily(
            "hitl_items_total", "Items scored, by queue and route.", labels=["queue", "route"]
        )
        answered = CounterMetricFamily(
            "hitl_answered_total", "Items answered by people, by queue.", labels=["queue"]
        )
        messages = GaugeMetricFamily(
            "hitl_messages",
            "Review messages by state: waiting to be posted, open in Slack, failed.",
            labels=["queue", "state"],
        )
        depth = GaugeMetricFamily(
            "hitl_outbox_depth", "Review messages not posted yet, by queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "hitl_oldest_waiting_seconds",
            "Age of the oldest item people still have to answer (0 when none waits).",
            labels=["queue"],
        )
        answer_time = HistogramMetricFamily(
            "hitl_time_to_answer_seconds",
            "Seconds from posting a review message to its item's answer.",
            labels=["queue"],
        )
        version = InfoMetricFamily(
            "hitl_model_version", "The model version scoring each queue.", labels=["queue"]
        )
        for q, o in overviews.items():
            for route, n in o.routed.items():
                items.add_metric([q, route], n)
            answered.add_metric([q], o.answered)
            for state, n in (("waiting", o.waiting), ("open", o.open), ("failed", o.failed)):
                messages.add_metric([q, state], n)
            depth.add_metric([q], o.waiting)
            came_in = oldest.get(q)
            age.add_metric([q], 0.0 if came_in is None else (now - came_in).total_seconds())
            t = times[q]
            bounds = zip(ANSWER_BUCKETS, t.cumulative, strict=True)
            buckets = [(str(float(b)), c) for b, c in bounds]
            answer_time.add_metric([q], [*buckets, ("+Inf", t.count)], t.total_seconds)
            if o.model_version is not None:
                version.add_metric([q], {"version": o.model_version})
        return [items, answered, messages, depth, age, answer_time, version]


class Metrics:
    """What `/metrics` renders for one app: the process's instruments and the database's."""

    def __init__(self, ctx: AppContext) -> None:
        self.shared = CollectorRegistry(auto_describe=False)
        self.shared.register(DatabaseCollector(ctx))

    def render(self) -> bytes:
        return generate_latest(REGISTRY) + generate_latest(self.shared)


class HttpMetricsMiddleware:
    """Times every HTTP request by method, route template (``/v1/queues/{queue}/items``: a
    bounded set, never the raw path) and status code. Plain ASGI, so streamed answers pass
    through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUEST_SECONDS.labels(
                method=scope.get("method", ""), route=template, status=str(status)
            ).observe(time.perf_counter() - started)
