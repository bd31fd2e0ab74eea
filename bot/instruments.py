"""The process's own Prometheus instruments: events counted where they happen.

Each `hitl serve` process counts what it does itself (a post Slack refused, an HTTP request);
Prometheus sums them over processes. What the processes share (items, answers, the outbox, the
current model) is not counted here but read from the database at scrape time
(``bot.api.metrics``), so any one process answers for all of them.

They live in prometheus_client's default registry, with its process and platform collectors
(CPU, memory, open files, start time, Python version).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERY_ERRORS = Counter(
    "hitl_delivery_errors",
    "Posts of review messages that failed, by Slack's error code (or the network error).",
    ["error"],
)

HTTP_REQUEST_SECONDS = Histogram(
    "hitl_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

#: Items scored although their inputs are not what the model was trained on (the queue's
#: ``missing_features`` policy), by queue and warning code (``missing_features``,
#: ``unknown_features``, ``unseen_categories``). Counted by the ingestion route.
MISSING_FEATURE_WARNINGS = Counter(
    "hitl_missing_feature_warnings",
    "Items scored with inputs the model does not know (missing, unknown), by queue and code.",
    ["queue", "code"],
)
