"""HitlClient at its protocol boundary (httpx.MockTransport): batching, retries, errors.
Against a real `hitl serve`: tests/scenarios/test_client.py."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

import httpx
import pytest

from hitl_client import MAX_BATCH, HitlApiError, HitlClient, Scored
from hitl_client.client import BODY_BUDGET


class Server:
    """Answers like the API, after the failures queued in ``failures`` (status, headers)."""

    def __init__(self, failures: list[tuple[int, dict[str, str]]] | None = None) -> None:
        self.failures = list(failures or [])
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            status, headers = self.failures.pop(0)
            return httpx.Response(status, headers=headers, json={"detail": "busy"})
        body = json.loads(request.content) if request.content else {}
        if request.url.path.endswith("/items"):
            return httpx.Response(200, json={"items": [answer(i["id"]) for i in body["items"]]})
        if request.url.path.endswith("/outcomes"):
            return httpx.Response(200, json={"stored": len(body["outcomes"])})
        return httpx.Response(200, json={"items": 3})

    def sizes(self) -> list[int]:
        return [len(json.loads(r.content)["items"]) for r in self.requests if r.content]


def answer(item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "label": "legit",
        "confidence": 0.9,
        "route": "auto",
        "model_version": "fraud-v1",
    }


def client_of(server: Server, sleeps: list[float] | None = None, **kw: Any) -> HitlClient:
    return HitlClient(
        "http://hitl.test/",
        "token-1",
        transport=httpx.MockTransport(server),
        sleep=(sleeps if sleeps is not None else []).append,
        rng=random.Random(0),
        **kw,
    )


def items(n: int, *, text: str = "") -> list[dict[str, Any]]:
    return [
        {"id": f"t-{i}", "text": text} if text else {"id": f"t-{i}", "features": {"a": i}}
        for i in range(n)
    ]


def test_submit_batches_by_a_thousand_and_answers_in_order():
    server = Server()
    with client_of(server) as hitl:
        answers = hitl.submit("fraud", iter(items(2500)))
    assert server.sizes() == [MAX_BATCH, MAX_BATCH, 500]
    assert [a.id for a in answers] == [f"t-{i}" for i in range(2500)]
    assert answers[0] == Scored("t-0", "legit", 0.9, "auto", "fraud-v1")
    request = server.requests[0]
    assert request.headers["Authorization"] == "Bearer token-1"
    assert request.url.path == "/v1/queues/fraud/items"


def test_submit_keeps_each_body_under_five_megabytes():
    server = Server()
    big = items(300, text="x" * 39_000)  # 300 × 39 kB: 11.7 MB in all
    with client_of(server) as hitl:
        assert len(hitl.submit("chat", big)) == 300
    assert sum(server.sizes()) == 300 and len(server.sizes()) == 3
    assert all(len(r.content) <= BODY_BUDGET for r in server.requests)


def test_an_item_alone_over_the_limit_is_refused_before_sending():
    server = Server()
    with client_of(server) as hitl, pytest.raises(ValueError, match=r"items\[1\]"):
        hitl.submit("chat", [{"id": "a", "text": "ok"}, {"id": "b", "text": "x" * BODY_BUDGET}])
    assert server.requests == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_with_growing_jittered_waits(status):
    server = Server([(status, {})] * 3)
    sleeps: list[float] = []
    with client_of(server, sleeps, backoff=0.5) as hitl:
        assert len(hitl.submit("fraud", items(2))) == 2
    assert len(server.requests) == 4
    assert len(sleeps) == 3
    for attempt, wait in enumerate(sleeps):
        assert 0 <= wait <= 0.5 * 2**attempt
    assert len(set(sleeps)) == 3  # jitter: not the same wait every time


def test_429_waits_the_retry_after_it_was_given():
    server = Server([(429, {"Retry-After": "7"})])
    sleeps: list[float] = []
    with client_of(server, sleeps) as hitl:
        hitl.submit("fraud", items(1))
    assert sleeps == [7.0]


def test_a_dropped_connection_is_retried():
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return Server()(request)

    with HitlClient(
        "http://hitl.test", "t", transport=httpx.MockTransport(flaky), sleep=lambda s: None
    ) as hitl:
        assert [a.id for a in hitl.submit("fraud", items(1))] == ["t-0"]
    assert len(calls) == 2


def test_a_client_error_is_raised_at_once_naming_the_field():
    def refuse(request: httpx.Request) -> httpx.Response:
        detail = [{"loc": ["body", "items", 1, "features"], "msg": "field required"}]
        return httpx.Response(422, json={"detail": detail})

    hitl = HitlClient(
        "http://hitl.test",
        "t",
        transport=httpx.MockTransport(refuse),
        sleep=lambda s: pytest.fail("a 422 is not retried"),
    )
    with pytest.raises(HitlApiError) as raised:
        hitl.submit("fraud", items(2))
    assert raised.value.status == 422
    assert "body.items.1.features: field required" in str(raised.value)


def test_retries_give_up_after_max_retries():
    server = Server([(503, {})] * 10)
    with client_of(server, max_retries=2) as hitl, pytest.raises(HitlApiError) as raised:
        hitl.submit("fraud", items(1))
    assert raised.value.status == 503 and len(server.requests) == 3


def test_outcomes_are_batched_and_counted_and_stats_are_read():
    server = Server()
    outcomes = [{"id": f"t-{i}", "label": "fraud"} for i in range(1200)]
    with client_of(server) as hitl:
        assert hitl.report_outcomes("fraud", outcomes) == 1200
        assert hitl.stats("fraud") == {"items": 3}
    assert [r.url.path for r in server.requests] == [
        "/v1/queues/fraud/outcomes",
        "/v1/queues/fraud/outcomes",
        "/v1/queues/fraud/stats",
    ]


def test_the_client_imports_nothing_of_the_server():
    code = (
        "import sys, hitl_client; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('bot', 'storage', 'models')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
