"""Inputs the model can vouch for, through the real API: missing or unknown features follow
``missing_features``; explanations and warnings are stored and served; config names that match
nothing are pointed out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.context import AppContext
from bot.review.ingest import ingest, parse_batch, warning_counts
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from storage.tables import Item
from tests.bot.api.test_routes import API_TOKEN, AUTH, serving
from tests.factories import cancer_rows, items_for, make_config, seed_model


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        yield server


def make_ctx(database_url: str, standin: SlackStandin, **fraud: Any) -> AppContext:
    ctx = build_context(
        Settings(database_url=database_url, hitl_api_token=API_TOKEN),
        config=make_config(fraud={"review_below": 0.5, "audit_rate": 0.0, **fraud}),
        token=standin.bot_token,
        api_url=standin.api_url,
        seed=0,
    )
    seed_model(ctx.sessions, "fraud")
    return ctx


def partial_item(item_id: str = "p-1") -> dict[str, Any]:
    """One of the model's 30 features, and one it never saw."""
    features = items_for(1)[0]["features"]
    return {"id": item_id, "features": {"mean_radius": features["mean_radius"], "colour": "red"}}


def stored_items(ctx: AppContext) -> int:
    with ctx.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Item)) or 0)


def test_review_sends_it_to_people_whatever_the_confidence(database_url, standin) -> None:
    ctx = make_ctx(database_url, standin)
    with serving(ctx) as client:
        response = client.post(
            "/v1/queues/fraud/items", json={"items": [partial_item(), *items_for(1)]}, headers=AUTH
        )
        assert response.status_code == 200
        partial, full = response.json()["items"]
        assert full.keys() == {"id", "label", "confidence", "route", "model_version"}
        assert partial["route"] == "review" and partial["confidence"] > 0.5  # confident, still
        codes = {w["code"]: w for w in partial["warnings"]}
        assert set(codes) == {"missing_features", "unknown_features"}
        assert len(codes["missing_features"]["fields"]) == 29
        assert "29 input(s) the model was trained on" in codes["missing_features"]["message"]
        assert codes["unknown_features"]["fields"] == ["colour"]

        stored = client.get("/v1/queues/fraud/items/p-1", headers=AUTH).json()
        assert stored["warnings"] == partial["warnings"]
        assert stored["prediction"]["route"] == "review"
        explained = client.get(f"/v1/queues/fraud/items/{full['id']}", headers=AUTH).json()
        explanation = explained["explanation"]
        assert 1 <= len(explanation) <= 10 and explained["warnings"] == []
        assert set(explanation[0]) == {"feature", "value", "contribution"}
        strengths = [abs(c["contribution"]) for c in explanation]
        assert strengths == sorted(strengths, reverse=True)
        assert explanation[0]["value"] == items_for(1)[0]["features"][explanation[0]["feature"]]


def test_reject_answers_422_naming_the_item_and_stores_nothing(database_url, standin) -> None:
    ctx = make_ctx(database_url, standin, missing_features="reject")
    with serving(ctx) as client:
        batch = [*items_for(2), partial_item("bad-1")]
        response = client.post("/v1/queues/fraud/items", json={"items": batch}, headers=AUTH)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "items", 2, "features"]
        assert "'bad-1'" in error["msg"] and "colour" in error["msg"]
        assert "mean_area" in error["msg"]
        assert stored_items(ctx) == 0
        assert (
            client.post(
                "/v1/queues/fraud/items", json={"items": items_for(2)}, headers=AUTH
            ).status_code
            == 200
        )


def test_ignore_scores_it_as_it_is(database_url, standin) -> None:
    ctx = make_ctx(database_url, standin, missing_features="ignore")
    answers = ingest(
        ctx,
        queue=ctx.config.queue("fraud"),
        items=parse_batch({"items": [partial_item()]}, queue=ctx.config.queue("fraud")),
    )
    assert answers[0].warnings == () and answers[0].route in ("auto", "review")


def test_warnings_are_counted_once_per_scored_item(database_url, standin) -> None:
    ctx = make_ctx(database_url, standin)
    queue = ctx.config.queue("fraud")
    items = parse_batch({"items": [partial_item(), partial_item("p-2")]}, queue=queue)
    assert warning_counts(ingest(ctx, queue=queue, items=items)) == {
        "missing_features": 2,
        "unknown_features": 2,
    }
    assert warning_counts(ingest(ctx, queue=queue, items=items)) == {}  # answered as stored


def test_metrics_count_the_items_scored_with_warnings(database_url, standin) -> None:
    ctx = make_ctx(database_url, standin)

    def counted(client: Any, code: str) -> float:
        families = text_string_to_metric_families(client.get("/metrics").text)
        return sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "hitl_missing_feature_warnings_total"
            and sample.labels == {"queue": "fraud", "code": code}
        )

    with serving(ctx) as client:
        before = counted(client, "unknown_features")
        body = {"items": [partial_item("m-1"), partial_item("m-2"), *items_for(1)]}
        for _ in range(2):  # the second time the items are answered as stored: not counted again
            assert client.post("/v1/queues/fraud/items", json=body, headers=AUTH).status_code == 200
        assert counted(client, "unknown_features") - before == 2


def test_a_config_name_that_matches_nothing_is_named(database_url, standin) -> None:
    ctx = make_ctx(
        database_url,
        standin,
        priority_field="mean_radus",  # a typo
        fields=["mean_radius", "merchant"],
        segments=["segment"],
        mask_fields=["card"],
    )
    with serving(ctx) as client:
        item = {**items_for(1)[0], "context": {"merchant": "ACME", "card": "4111"}}
        body = client.post("/v1/queues/fraud/items", json={"items": [item]}, headers=AUTH).json()
        messages = {w["message"] for w in body["warnings"]}
        assert all(w["code"] == "unknown_config_name" for w in body["warnings"])
        assert messages == {
            "fraud: priority_field names mean_radus, neither an input of the model nor seen in"
            " any item's context",
            "fraud: segments names segment, neither an input of the model nor seen in any item's"
            " context",
        }
        # seen once in any item's context is enough
        item = {**items_for(1, prefix="s")[0], "context": {"segment": "retail"}}
        body = client.post("/v1/queues/fraud/items", json={"items": [item]}, headers=AUTH).json()
        assert [w["fields"] for w in body["warnings"]] == [["mean_radus"]]


def test_training_stores_the_feature_schema(database_url, standin) -> None:
    ctx = make_ctx(database_url, standin)
    from storage.registry import current_version

    with ctx.sessions.begin() as session:
        schema = current_version(session=session, queue="fraud").info["feature_schema"]  # type: ignore[union-attr]
    payloads, _ = cancer_rows()
    assert set(schema["features"]) == set(payloads[0]["features"])
    assert schema["features"]["mean_radius"] == {"type": "numeric"}
