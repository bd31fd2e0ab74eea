"""`/metrics` of running `hitl serve` processes: delivery errors by Slack's code, counted by
the process that posted; the shared state read from the database, the same from any process."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.factories import items_for
from tests.scenarios.harness import ServeProcess, wait_until


def scrape(serve: ServeProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = serve.http.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def test_delivery_errors_are_counted_by_slack_error_code(start_serve, standin):
    serve = start_serve(fraud={"review_below": 1.0})
    standin.fail_next("chat.postMessage", status=200, error="channel_not_found")
    assert serve.post_items("fraud", items_for(1)).status_code == 200
    # Counted as Slack answers; the outbox row is marked failed a moment later.
    found = wait_until(
        lambda: (
            (f := scrape(serve))
            and value(f, "hitl_messages", queue="fraud", state="failed") == 1
            and f
        ),
        timeout=15,
        what="the failed post recorded",
    )
    assert value(found, "hitl_delivery_errors_total", error="channel_not_found") == 1


def test_two_processes_report_the_same_shared_state(start_serve, standin, database_url, tmp_path):
    first = start_serve(fraud={"review_below": 1.0, "max_open": 2})
    second = ServeProcess(
        database_url=database_url,
        config_path=tmp_path / "hitl.toml",
        standin=standin,
        log_path=tmp_path / "second.log",
    )
    try:
        assert first.post_items("fraud", items_for(5)).status_code == 200
        standin.wait_for_calls("chat.postMessage", 2)

        def shared(serve: ServeProcess) -> tuple[float | None, ...]:
            found = scrape(serve)
            return (
                value(found, "hitl_items_total", queue="fraud", route="review"),
                value(found, "hitl_outbox_depth", queue="fraud"),
                value(found, "hitl_messages", queue="fraud", state="open"),
                value(found, "hitl_model_version_info", queue="fraud", version="fraud-v1"),
            )

        wait_until(lambda: shared(first) == (5, 3, 2, 1), what="the first process's figures")
        assert shared(second) == shared(first)  # the second one never saw these items
        assert scrape(second)[("hitl_oldest_waiting_seconds", frozenset({("queue", "fraud")}))] > 0
    finally:
        second.stop()
