"""Property: whatever arrives at /v1 or /slack/events, `hitl serve` answers below 500, stores a
batch all or nothing, counts no click that was not made on its item's message, and keeps the
keep-alive connection open for the next request. Served by uvicorn on a real socket, on each
database; a few hundred examples per run (HITL_FUZZ_EXAMPLES to change it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.bot.slack.live_app import API_TOKEN, SIGNING_SECRET, live_app, over_http
from tests.fuzz_requests import FuzzRequest, Prober, requests, stored_consistently

EXAMPLES = int(os.environ.get("HITL_FUZZ_EXAMPLES", "300"))
QUEUES = {"fraud": {"review_below": 0.95, "audit_rate": 0.1}}


@pytest.fixture
def prober(database_url: str) -> Iterator[Prober]:
    with live_app(database_url, queues=QUEUES) as app, over_http(app.web) as (host, port):
        prober = Prober(host, port, app.ctx.sessions)
        try:
            yield prober
        finally:
            prober.close()
        assert stored_consistently(app.ctx.sessions) == []


def test_no_request_gets_a_5xx_a_partial_write_or_a_closed_connection(prober):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(api_token=API_TOKEN, signing_secret=SIGNING_SECRET))
    def one(request: FuzzRequest) -> None:
        verdict = prober.send(request)
        assert verdict.status < 500, request
        assert verdict.survived, request
        assert not verdict.partial, request
        assert stored_consistently(prober.sessions) == [], request

    one()
