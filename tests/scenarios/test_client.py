"""HitlClient against a real `hitl serve`: batches, answers in order, idempotent on ids even
when an answer is lost on the way back and the batch is sent again."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from hitl_client import HitlClient
from storage.tables import Item, Outcome
from tests.factories import cancer_rows
from tests.scenarios.harness import API_TOKEN


class LoseFirstAnswers(httpx.BaseTransport):
    """Passes every request to the real server, but for the first ``n`` answers hands the
    client a 503 instead: the server did the work, the client never heard."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.sent = 0
        self._real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._real.handle_request(request)
        self.sent += 1
        if self.sent <= self.n:
            response.read()
            response.close()
            return httpx.Response(503, json={"detail": "lost on the way back"})
        return response

    def close(self) -> None:
        self._real.close()


def producer_items(n: int) -> list[dict]:
    payloads, _ = cancer_rows()
    return [{"id": f"tx-{i}", **payloads[300 + i % 200]} for i in range(n)]


def count(sessions, table) -> int:
    with sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(table))


def test_a_producer_submits_reports_outcomes_and_reads_stats(start_serve, sessions):
    serve = start_serve(fraud={"review_below": 0.5})
    items = producer_items(2300)
    with HitlClient(serve.base_url, API_TOKEN) as hitl:
        answers = hitl.submit("fraud", items)
        assert [a.id for a in answers] == [i["id"] for i in items]
        assert {a.model_version for a in answers} == {"fraud-v1"}
        assert all(0 <= a.confidence <= 1 for a in answers)
        assert hitl.submit("fraud", items[:1500]) == answers[:1500]  # idempotent on ids
        assert count(sessions, Item) == 2300

        stored = hitl.report_outcomes(
            "fraud", [{"id": a.id, "label": a.label, "source": "chargeback"} for a in answers[:5]]
        )
        assert stored == 5 and count(sessions, Outcome) == 5
        assert hitl.stats("fraud")["items"] == 2300


def test_a_lost_answer_is_retried_and_nothing_is_stored_twice(start_serve, sessions):
    serve = start_serve()
    items = producer_items(1200)
    transport = LoseFirstAnswers(2)
    hitl = HitlClient(
        serve.base_url, API_TOKEN, transport=transport, backoff=0.05, sleep=lambda s: None
    )
    with hitl:
        answers = hitl.submit("fraud", items)
    assert transport.sent == 4  # the first batch twice lost, then sent a third time; the second
    assert [a.id for a in answers] == [i["id"] for i in items]
    assert count(sessions, Item) == 1200
