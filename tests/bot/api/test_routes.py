"""The /v1 ingestion API in-process: FastAPI's TestClient on the real app, a real database and
the Slack stand-in (the Bolt app checks its token with ``auth.test`` when it is built)."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.api.app import build_web_app
from bot.api.routes import MAX_BODY_BYTES
from bot.context import AppContext
from bot.review.ingest import ingest, parse_batch
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.app import build_bolt_app
from bot.slack_standin.server import SlackStandin
from storage.items import get_item
from storage.reviews import record_vote
from storage.tables import Item, Outcome, Prediction, ReviewMessage
from tests.factories import items_for, make_config, seed_model

API_TOKEN = "test-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
QUEUES: dict[str, dict[str, Any]] = {
    # audit_rate 0.5: scoring an item twice would very likely route it differently.
    "fraud": {"review_below": 0.9, "audit_rate": 0.5},
    "chat": {"kind": "text", "channel": "C0CHAT", "labels": ["good", "bad"]},
}


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        yield server


@contextmanager
def serving(ctx: AppContext) -> Iterator[TestClient]:
    """The real web app of `hitl serve` (without its deliverer thread) around ``ctx``."""
    bolt = build_bolt_app(ctx, signing_secret="test-signing-secret")
    try:
        with TestClient(build_web_app(ctx, bolt)) as client:
            yield client
    finally:
        ctx.engine.dispose()


@pytest.fixture
def ctx(database_url: str, standin: SlackStandin) -> AppContext:
    return build_context(
        Settings(database_url=database_url, hitl_api_token=API_TOKEN),
        config=make_config(**QUEUES),
        token=standin.bot_token,
        api_url=standin.api_url,
        seed=0,
    )


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with serving(ctx) as client:
        yield client


@pytest.fixture
def trained(ctx: AppContext) -> str:
    return seed_model(ctx.sessions, "fraud")


def post_items(client: TestClient, items: list[dict[str, Any]], queue: str = "fraud") -> Any:
    return client.post(f"/v1/queues/{queue}/items", json={"items": items}, headers=AUTH)


def count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def stored_rows(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    return count(sessions, Item), count(sessions, Prediction), count(sessions, ReviewMessage)


# ---------------------------------------------------------------- authentication and routing


ROUTES = [
    ("POST", "/v1/queues/fraud/items"),
    ("GET", "/v1/queues/fraud/items/t-0"),
    ("GET", "/v1/queues/fraud/labels"),
    ("POST", "/v1/queues/fraud/outcomes"),
]


def _request(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {"items": items_for(1)} if path.endswith("/items") else {"outcomes": []}
    kwargs: dict[str, Any] = {"json": body} if method == "POST" else {}
    return client.request(method, path, headers=headers, **kwargs)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {API_TOKEN}"},
        {"Authorization": API_TOKEN},
        {"Authorization": f"Bearer {API_TOKEN}x"},
    ],
    ids=["none", "wrong", "basic-scheme", "no-scheme", "longer"],
)
def test_without_a_valid_token_every_route_answers_401(client, ctx, trained, headers):
    # the unknown queue too: 401 comes before 404, so queue names do not leak
    for method, path in [*ROUTES, ("POST", "/v1/queues/nope/items")]:
        response = _request(client, method, path, headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    assert stored_rows(ctx.sessions) == (0, 0, 0)
    # the control: the same calls with the token are not refused
    assert _request(client, "POST", "/v1/queues/fraud/items", AUTH).status_code == 200


@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
def test_no_token_configured_refuses_every_call(database_url, standin, token):
    ctx = build_context(
        Settings(database_url=database_url, hitl_api_token=token),
        config=make_config(**QUEUES),
        token=standin.bot_token,
        api_url=standin.api_url,
    )
    seed_model(ctx.sessions, "fraud")
    with serving(ctx) as client:
        for headers in (
            {},
            {"Authorization": "Bearer "},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer None"},
        ):
            response = client.post(
                "/v1/queues/fraud/items", json={"items": items_for(1)}, headers=headers
            )
            assert response.status_code == 401, headers
        assert stored_rows(ctx.sessions) == (0, 0, 0)


def test_unknown_queue_is_404_naming_it(client, trained):
    for method, path in ROUTES:
        path = path.replace("/fraud/", "/nope/")
        response = _request(client, method, path, AUTH)
        assert response.status_code == 404, (method, path)
        assert "nope" in response.json()["detail"]


def test_unknown_item_is_404(client, trained):
    post_items(client, items_for(1))
    response = client.get("/v1/queues/fraud/items/t-404", headers=AUTH)
    assert response.status_code == 404
    assert "t-404" in response.json()["detail"]
    # the same id in another queue is another item
    assert client.get("/v1/queues/chat/items/t-0", headers=AUTH).status_code == 404


# ---------------------------------------------------------------- batch size and body size


def test_a_batch_of_1000_items_is_scored_and_stored(client, ctx, trained):
    items = items_for(1000)
    response = post_items(client, items)
    assert response.status_code == 200, response.text
    answers = response.json()["items"]
    assert [a["id"] for a in answers] == [i["id"] for i in items]
    n_routed_to_people = sum(a["route"] != "auto" for a in answers)
    assert stored_rows(ctx.sessions) == (1000, 1000, n_routed_to_people)


@pytest.mark.parametrize("n", [0, 1001])
def test_zero_or_more_than_1000_items_is_422_naming_items(client, ctx, trained, n):
    response = post_items(client, items_for(n))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [e["loc"] for e in detail] == [["body", "items"]]
    assert stored_rows(ctx.sessions) == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [{}, [], {"items": {"id": "t-0"}}, {"items": items_for(1), "extra": 1}],
    ids=["no-items", "array", "items-not-a-list", "unknown-key"],
)
def test_a_body_of_the_wrong_shape_is_422(client, trained, body):
    response = client.post("/v1/queues/fraud/items", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_invalid_json_is_422(client, trained):
    response = client.post(
        "/v1/queues/fraud/items",
        content=b'{"items": [',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def _oversized_body() -> bytes:
    # Valid JSON, so only its size can be the reason for refusing it.
    pad = "x" * MAX_BODY_BYTES
    body = {"items": [{"id": "t-0", "features": {"x": 1.0}, "context": {"pad": pad}}]}
    return json.dumps(body).encode()


def test_a_body_over_5_mb_with_content_length_is_413(client, ctx, trained):
    body = _oversized_body()
    response = client.post(
        "/v1/queues/fraud/items",
        content=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.request.headers["content-length"] == str(len(body))
    assert response.status_code == 413
    assert stored_rows(ctx.sessions) == (0, 0, 0)


def test_a_chunked_body_over_5_mb_without_content_length_is_413(client, ctx, trained):
    body = _oversized_body()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    response = client.post(
        "/v1/queues/fraud/items",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert stored_rows(ctx.sessions) == (0, 0, 0)


def test_a_body_of_exactly_5_mb_is_read(client, ctx, trained):
    # 413 must come from the size, not from some smaller limit.
    item = {"id": "t-big", "features": {"x": 1.0}, "context": {"pad": ""}}
    overhead = len(json.dumps({"items": [item]}).encode())
    item["context"]["pad"] = "x" * (MAX_BODY_BYTES - overhead)
    body = json.dumps({"items": [item]}).encode()
    assert len(body) == MAX_BODY_BYTES
    response = client.post(
        "/v1/queues/fraud/items", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text[:300]
    assert stored_rows(ctx.sessions)[0] == 1


# ---------------------------------------------------------------- item validation


def _bad_items(field: str) -> tuple[str, list[dict[str, Any]], str]:
    """(queue, items with item 1 wrong in ``field``, field expected in the loc)."""
    good = items_for(3)
    bad = dict(good[1])
    if field == "no-features":
        del bad["features"]
        return "fraud", [good[0], bad, good[2]], "features"
    if field == "features-not-object":
        bad["features"] = [1.0, 2.0]
        return "fraud", [good[0], bad, good[2]], "features"
    if field == "feature-list-value":
        bad["features"] = {**bad["features"], "mean_radius": [1]}
        return "fraud", [good[0], bad, good[2]], "features"
    if field == "context-list-value":
        bad["context"] = {"merchant": ["a", "b"]}
        return "fraud", [good[0], bad, good[2]], "context"
    if field == "context-object-value":
        bad["context"] = {"merchant": {"name": "a"}}
        return "fraud", [good[0], bad, good[2]], "context"
    if field == "context-not-object":
        bad["context"] = "shop"
        return "fraud", [good[0], bad, good[2]], "context"
    if field == "no-id":
        del bad["id"]
        return "fraud", [good[0], bad, good[2]], "id"
    if field == "empty-id":
        bad["id"] = ""
        return "fraud", [good[0], bad, good[2]], "id"
    if field == "numeric-id":
        bad["id"] = 7
        return "fraud", [good[0], bad, good[2]], "id"
    if field == "no-text":
        texts = [{"id": f"r-{i}", "text": f"reply {i}"} for i in range(3)]
        return "chat", [texts[0], {"id": "r-1"}, texts[2]], "text"
    if field == "text-not-string":
        texts = [{"id": f"r-{i}", "text": f"reply {i}"} for i in range(3)]
        return "chat", [texts[0], {"id": "r-1", "text": 12}, texts[2]], "text"
    raise AssertionError(field)


@pytest.mark.parametrize(
    "field",
    [
        "no-features",
        "features-not-object",
        "feature-list-value",
        "context-list-value",
        "context-object-value",
        "context-not-object",
        "no-id",
        "empty-id",
        "numeric-id",
        "no-text",
        "text-not-string",
    ],
)
def test_a_bad_item_is_422_naming_its_index_and_field_and_nothing_is_stored(
    client, ctx, trained, field
):
    queue, items, expected_field = _bad_items(field)
    response = post_items(client, items, queue=queue)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail, "422 without any error"
    for error in detail:
        assert error["loc"] == ["body", "items", 1, expected_field], detail
        assert error["msg"]
    assert stored_rows(ctx.sessions) == (0, 0, 0)


@pytest.mark.parametrize(
    ("where", "raw"),
    [
        ("features", "NaN"),
        ("features", "Infinity"),
        ("features", "-Infinity"),
        ("features", "1e999"),
        ("context", "NaN"),
        ("context", "Infinity"),
        ("context", "1e999"),
    ],
)
def test_a_non_finite_number_is_422_naming_the_field(client, ctx, trained, where, raw):
    # Python's json module reads NaN/Infinity and 1e999 overflows to inf: the API must refuse
    # them (a JSON column cannot hold them, and the model would see garbage).
    good = json.dumps(items_for(1, prefix="ok")[0])
    if where == "features":
        bad = '{"id": "bad", "features": {"amount": RAW}}'.replace("RAW", raw)
    else:
        bad = '{"id": "bad", "features": {"amount": 1.0}, "context": {"score": RAW}}'.replace(
            "RAW", raw
        )
    response = client.post(
        "/v1/queues/fraud/items",
        content=f'{{"items": [{good}, {bad}]}}',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [e["loc"] for e in detail] == [["body", "items", 1, where]]
    assert "amount" in detail[0]["msg"] or "score" in detail[0]["msg"]
    assert stored_rows(ctx.sessions) == (0, 0, 0)


def test_every_bad_item_is_named_not_only_the_first(client, trained):
    items = items_for(4)
    del items[1]["features"]
    del items[3]["features"]
    response = post_items(client, items)
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert locs == [["body", "items", 1, "features"], ["body", "items", 3, "features"]]


def test_context_of_strings_and_numbers_is_stored_and_shown(client, ctx, trained):
    item = {**items_for(1)[0], "context": {"merchant": "ACME <b>", "amount": 12.5, "n": 3}}
    assert post_items(client, [item]).status_code == 200
    shown = client.get(f"/v1/queues/fraud/items/{item['id']}", headers=AUTH).json()
    assert shown["context"] == item["context"]
    assert shown["features"] == item["features"]


# ---------------------------------------------------------------- atomicity and idempotency


def test_a_batch_with_one_bad_item_stores_nothing(client, ctx, trained):
    items = items_for(50)
    del items[49]["features"]
    response = post_items(client, items)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "items", 49, "features"]
    assert stored_rows(ctx.sessions) == (0, 0, 0)
    # and the same batch, fixed, goes through whole
    items[49]["features"] = items_for(50)[49]["features"]
    assert post_items(client, items).status_code == 200
    assert stored_rows(ctx.sessions)[:2] == (50, 50)


def test_the_same_ids_twice_give_the_same_answers_and_no_new_rows(client, ctx, trained):
    items = items_for(20)
    first = post_items(client, items)
    assert first.status_code == 200
    rows = stored_rows(ctx.sessions)
    assert rows[:2] == (20, 20)
    # A new current model must not re-score items already stored.
    seed_model(ctx.sessions, "fraud")
    second = post_items(client, items)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert stored_rows(ctx.sessions) == rows


def test_a_batch_mixing_old_and_new_ids_answers_old_as_stored_and_scores_new(client, ctx, trained):
    old = post_items(client, items_for(5)).json()["items"]
    v2 = seed_model(ctx.sessions, "fraud")
    mixed = items_for(8)[3:] + items_for(3)[:1]  # t-3, t-4 (old), t-5..t-7 (new), t-0 (old)
    response = post_items(client, mixed)
    assert response.status_code == 200
    answers = response.json()["items"]
    assert [a["id"] for a in answers] == [i["id"] for i in mixed]
    by_id = {a["id"]: a for a in answers}
    old_by_id = {a["id"]: a for a in old}
    for item_id in ("t-3", "t-4", "t-0"):
        assert by_id[item_id] == old_by_id[item_id]
        assert by_id[item_id]["model_version"] == trained
    for item_id in ("t-5", "t-6", "t-7"):
        assert by_id[item_id]["model_version"] == v2
    assert stored_rows(ctx.sessions)[:2] == (8, 8)


def test_the_same_new_ids_sent_at_the_same_moment_are_stored_once(ctx, trained):
    # Two producers (or a producer's retry) racing: one stores, the other answers what it stored.
    queue = ctx.config.queue("fraud")
    items = parse_batch({"items": items_for(50)}, queue=queue)
    barrier = threading.Barrier(3)
    answers: list[list[Any]] = []
    errors: list[BaseException] = []

    def send() -> None:
        barrier.wait()
        try:
            answers.append(ingest(ctx, queue=queue, items=items))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(answers) == 3
    assert answers[0] == answers[1] == answers[2]
    assert stored_rows(ctx.sessions)[:2] == (50, 50)


def test_a_repeated_id_within_one_batch_is_stored_once(client, ctx, trained):
    [item] = items_for(1)
    response = post_items(client, [item, item])
    assert response.status_code == 200
    first, second = response.json()["items"]
    assert first == second
    assert stored_rows(ctx.sessions)[:2] == (1, 1)


def test_the_same_id_in_two_queues_is_two_items(client, ctx, trained):
    seed_model_text(ctx)
    post_items(client, items_for(1))
    response = post_items(client, [{"id": "t-0", "text": "Thanks, that solved it"}], "chat")
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["label"] in ("good", "bad")
    assert count(ctx.sessions, Item) == 2


def seed_model_text(ctx: AppContext) -> None:
    from models.training import train_initial

    good = ["thanks that solved it", "great answer thanks", "perfect that works", "thanks a lot"]
    bad = ["this did not help", "wrong answer again", "useless reply", "that is not right"]
    payloads = [{"text": t} for t in good * 3 + bad * 3]
    y = ["good"] * 12 + ["bad"] * 12
    with ctx.sessions.begin() as session:
        train_initial(
            session=session,
            queue="chat",
            kind="text",
            labels=("good", "bad"),
            payloads=payloads,
            y=y,
        )


# ---------------------------------------------------------------- answers


def test_no_model_yet_is_409_naming_hitl_train_and_stores_nothing(client, ctx):
    response = post_items(client, items_for(2))
    assert response.status_code == 409
    assert "hitl train fraud" in response.json()["detail"]
    assert stored_rows(ctx.sessions) == (0, 0, 0)


def test_answers_have_the_contract_shape(client, ctx, trained):
    response = post_items(client, items_for(200))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    labels = ctx.config.queue("fraud").labels
    answers = response.json()["items"]
    assert len(answers) == 200
    for a in answers:
        assert set(a) == {"id", "label", "confidence", "route", "model_version"}
        assert a["label"] in labels
        assert isinstance(a["confidence"], float)
        assert 0.0 <= a["confidence"] <= 1.0
        assert a["route"] in ("review", "audit", "auto")
        assert a["model_version"] == trained
        # routing follows the queue: below review_below always goes to people
        if a["confidence"] < 0.9:
            assert a["route"] == "review"
        else:
            assert a["route"] in ("audit", "auto")
    # the answers are what was stored
    with ctx.sessions.begin() as session:
        for a in answers[:20]:
            item = get_item(session=session, queue="fraud", external_id=a["id"])
            assert item.prediction is not None
            assert item.prediction.label == a["label"]
            assert item.prediction.confidence == a["confidence"]
            assert item.prediction.route == a["route"]
            assert (item.message is not None) == (a["route"] != "auto")


def test_confidence_is_the_probability_of_the_predicted_label(client, ctx, trained):
    from models.registry import load_current

    items = items_for(30)
    answers = post_items(client, items).json()["items"]
    with ctx.sessions.begin() as session:
        _, pipeline = load_current(session=session, queue="fraud")
    from models.pipelines import to_model_input

    proba = pipeline.predict_proba(to_model_input("tabular", items))
    classes = list(pipeline.classes_)
    for a, p in zip(answers, proba, strict=True):
        assert math.isclose(a["confidence"], p[classes.index(a["label"])], rel_tol=1e-9)
        assert a["confidence"] == max(p)


def test_get_item_shows_the_item_its_prediction_route_and_reviews(client, ctx, trained):
    items = items_for(40)
    answers = {a["id"]: a for a in post_items(client, items).json()["items"]}
    reviewed = next(i for i in items if answers[i["id"]]["route"] != "auto")
    with ctx.sessions.begin() as session:
        item = get_item(session=session, queue="fraud", external_id=reviewed["id"])
        record_vote(
            session=session,
            item_pk=item.id,
            user_id="U0ANALYST",
            label="fraud",
            request_key="k1",
            votes_required=1,
        )
    response = client.get(f"/v1/queues/fraud/items/{reviewed['id']}", headers=AUTH)
    assert response.status_code == 200
    shown = response.json()
    answer = answers[reviewed["id"]]
    assert shown["id"] == reviewed["id"]
    assert shown["queue"] == "fraud"
    assert shown["features"] == reviewed["features"]
    assert shown["prediction"]["label"] == answer["label"]
    assert shown["prediction"]["confidence"] == answer["confidence"]
    assert shown["prediction"]["route"] == answer["route"]
    assert shown["prediction"]["model_version"] == answer["model_version"]
    expected_probability = 1.0 if answer["route"] == "review" else 0.5
    assert shown["prediction"]["audit_probability"] == expected_probability
    assert shown["message"]["channel"] == "C0REVIEW"
    assert shown["resolved_label"] == "fraud"
    assert [(r["user"], r["action"], r["label"]) for r in shown["reviews"]] == [
        ("U0ANALYST", "vote", "fraud")
    ]


@pytest.mark.parametrize("item_id", ["order/2024/7", "a b", "ü-1", "x?y=1#z", "50%", "-"])
def test_any_id_that_was_posted_can_be_fetched(client, trained, item_id):
    [item] = items_for(1)
    assert post_items(client, [{**item, "id": item_id}]).status_code == 200
    response = client.get(f"/v1/queues/fraud/items/{quote(item_id, safe='')}", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == item_id


# ---------------------------------------------------------------- labels export


def test_labels_are_ndjson_of_resolved_items_only(client, ctx, trained):
    answers = post_items(client, items_for(10)).json()["items"]
    with ctx.sessions.begin() as session:
        for a, label in zip(answers[:3], ["fraud", "legit", "fraud"], strict=True):
            item = get_item(session=session, queue="fraud", external_id=a["id"])
            for n, user in enumerate(("U0A", "U0B")):
                record_vote(
                    session=session,
                    item_pk=item.id,
                    user_id=user,
                    label=label,
                    request_key=f"{a['id']}:{n}",
                    votes_required=2,
                )
        # one more with a single vote of two needed: not resolved, not exported
        item = get_item(session=session, queue="fraud", external_id=answers[3]["id"])
        record_vote(
            session=session,
            item_pk=item.id,
            user_id="U0A",
            label="fraud",
            request_key="x",
            votes_required=2,
        )
    response = client.get("/v1/queues/fraud/labels", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert response.text.endswith("\n")
    assert [r["id"] for r in rows] == [a["id"] for a in answers[:3]]
    for row, a, label in zip(rows, answers, ["fraud", "legit", "fraud"], strict=False):
        assert set(row) == {"id", "label", "resolved_at", "votes", "predicted", "model_version"}
        assert row["label"] == label
        assert row["predicted"] == a["label"]
        assert row["model_version"] == a["model_version"]
        assert row["resolved_at"] is not None
        assert [(v["user"], v["label"]) for v in row["votes"]] == [("U0A", label), ("U0B", label)]
        assert all(v["at"] for v in row["votes"])


def test_labels_stream_every_resolved_item_across_pages(client, ctx, trained):
    # more than one page of the export (500 rows), each exactly once
    post_items(client, items_for(520))
    with ctx.sessions.begin() as session:
        session.execute(
            update(Item).values(resolved_label="legit", resolved_at=func.current_timestamp())
        )
    response = client.get("/v1/queues/fraud/labels", headers=AUTH)
    ids = [json.loads(line)["id"] for line in response.text.splitlines()]
    assert len(ids) == 520
    assert len(set(ids)) == 520


def test_labels_of_a_queue_without_answers_is_empty(client, trained):
    response = client.get("/v1/queues/fraud/labels", headers=AUTH)
    assert response.status_code == 200
    assert response.text == ""


# ---------------------------------------------------------------- outcomes


def test_outcomes_are_stored_and_the_latest_wins(client, ctx, trained):
    post_items(client, items_for(3))
    body = {
        "outcomes": [
            {"id": "t-0", "label": "fraud", "source": "chargeback"},
            {"id": "t-2", "label": "legit", "observed_at": "2024-05-01T10:00:00+00:00"},
        ]
    }
    response = client.post("/v1/queues/fraud/outcomes", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 2}
    again = {"outcomes": [{"id": "t-0", "label": "legit", "source": "complaint"}]}
    assert client.post("/v1/queues/fraud/outcomes", json=again, headers=AUTH).status_code == 200
    with ctx.sessions.begin() as session:
        rows = session.execute(
            select(Item.external_id, Outcome.label, Outcome.source, Outcome.observed_at)
            .join(Outcome, Outcome.item_id == Item.id)
            .order_by(Item.external_id)
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("t-0", "legit", "complaint"),
        ("t-2", "legit", None),
    ]
    assert rows[1][3].isoformat().startswith("2024-05-01T10:00:00")


def test_an_outcome_for_an_unknown_id_is_422_naming_the_index_and_stores_nothing(
    client, ctx, trained
):
    post_items(client, items_for(2))
    body = {"outcomes": [{"id": "t-0", "label": "fraud"}, {"id": "t-999", "label": "fraud"}]}
    response = client.post("/v1/queues/fraud/outcomes", json=body, headers=AUTH)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [e["loc"] for e in detail] == [["body", "outcomes", 1, "id"]]
    assert "t-999" in detail[0]["msg"]
    assert count(ctx.sessions, Outcome) == 0


@pytest.mark.parametrize(
    ("outcome", "field"),
    [
        ({"id": "t-0", "label": "maybe"}, "label"),
        ({"id": "t-0"}, "label"),
        ({"id": "t-0", "label": "fraud", "observed_at": "yesterday"}, "observed_at"),
        ({"id": "t-0", "label": "fraud", "observed_at": "2024-05-01T10:00:00"}, "observed_at"),
        ({"id": "t-0", "label": "fraud", "amount": 3}, "amount"),
    ],
    ids=["label-not-in-queue", "no-label", "bad-date", "naive-date", "unknown-field"],
)
def test_a_bad_outcome_is_422_naming_index_and_field(client, ctx, trained, outcome, field):
    post_items(client, items_for(1))
    body = {"outcomes": [{"id": "t-0", "label": "fraud"}, outcome]}
    response = client.post("/v1/queues/fraud/outcomes", json=body, headers=AUTH)
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert locs == [["body", "outcomes", 1, field]]
    assert count(ctx.sessions, Outcome) == 0


def test_an_outcome_for_an_item_of_another_queue_is_unknown(client, ctx, trained):
    post_items(client, items_for(1))
    body = {"outcomes": [{"id": "t-0", "label": "good"}]}
    response = client.post("/v1/queues/chat/outcomes", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "outcomes", 0, "id"]


# ---------------------------------------------------------------- health and metrics


def test_healthz_is_200_when_the_schema_is_up_to_date(client):
    response = client.get("/healthz")
    assert response.status_code == 200


def test_healthz_is_503_before_the_schema_exists(database_url, standin):
    ctx = build_context(
        Settings(database_url=database_url, hitl_api_token=API_TOKEN),
        config=make_config(**QUEUES),
        token=standin.bot_token,
        api_url=standin.api_url,
        migrate=False,
    )
    with serving(ctx) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert "hitl db upgrade" in response.text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value, read with prometheus_client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(found: dict, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_metrics_count_the_items_by_route(client, trained):
    answers = post_items(client, items_for(60)).json()["items"]
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    for route in ("review", "audit", "auto"):
        n = sum(a["route"] == route for a in answers)
        assert sample(found, "hitl_items_total", queue="fraud", route=route) == n
    assert sample(found, "hitl_items_total", queue="chat", route="auto") == 0
    waiting = sum(a["route"] != "auto" for a in answers)
    assert sample(found, "hitl_messages", queue="fraud", state="waiting") == waiting
    assert sample(found, "hitl_outbox_depth", queue="fraud") == waiting
    assert sample(found, "hitl_oldest_waiting_seconds", queue="fraud") >= 0
    assert sample(found, "hitl_oldest_waiting_seconds", queue="chat") == 0
    assert sample(found, "hitl_model_version_info", queue="fraud", version="fraud-v1") == 1
    assert not any(
        name == "hitl_model_version_info" and ("queue", "chat") in labels for name, labels in found
    )  # no model, no version
    assert sample(found, "hitl_database_up") == 1


def test_metrics_time_to_answer_is_a_histogram_from_the_database(client, ctx, trained):
    post_items(client, items_for(30))
    with ctx.sessions.begin() as session:
        messages = session.scalars(
            select(ReviewMessage).where(ReviewMessage.queue == "fraud").limit(3)
        ).all()
        assert len(messages) == 3
        for message, seconds in zip(messages, (5, 45, 4000), strict=True):
            message.state, message.ts = "resolved", f"1700000000.{message.id:06d}"
            message.posted_at = message.item.created_at
            message.item.resolved_at = message.item.created_at + timedelta(seconds=seconds)
            message.item.resolved_label = "legit"
    found = samples(client.get("/metrics").text)
    bucket = lambda le: sample(found, "hitl_time_to_answer_seconds_bucket", queue="fraud", le=le)  # noqa: E731
    assert (bucket("10.0"), bucket("60.0"), bucket("3600.0"), bucket("7200.0")) == (1, 2, 2, 3)
    assert bucket("+Inf") == 3
    assert sample(found, "hitl_time_to_answer_seconds_count", queue="fraud") == 3
    assert sample(found, "hitl_time_to_answer_seconds_sum", queue="fraud") == pytest.approx(4050)
    assert sample(found, "hitl_answered_total", queue="fraud") == 3


def test_metrics_time_http_requests_by_route_template(client, trained):
    post_items(client, items_for(2))
    client.get("/v1/queues/fraud/items/t-nope", headers=AUTH)
    found = samples(client.get("/metrics").text)
    assert (
        sample(
            found,
            "hitl_http_request_duration_seconds_count",
            method="POST",
            route="/v1/queues/{queue}/items",
            status="200",
        )
        >= 1
    )
    assert (
        sample(
            found,
            "hitl_http_request_duration_seconds_count",
            method="GET",
            route="/v1/queues/{queue}/items/{item_id:path}",
            status="404",
        )
        >= 1
    )
    assert not any("t-nope" in str(labels) for _, labels in found)
    assert sample(found, "process_cpu_seconds_total") > 0


# ---------------------------------------------------------------- stats


def test_stats_give_this_weeks_figures_as_json(client, trained):
    answers = post_items(client, items_for(40)).json()["items"]
    response = client.get("/v1/queues/fraud/stats", headers=AUTH)
    assert response.status_code == 200, response.text
    stats = response.json()
    routed = {r: sum(a["route"] == r for a in answers) for r in ("review", "audit", "auto")}
    assert stats["this_week"]["items"] == 40
    assert stats["this_week"]["routed"] == routed
    assert stats["last_week"]["items"] == 0
    assert stats["backlog"] == routed["review"] + routed["audit"]
    assert stats["this_week"]["automatic_accuracy"] == {
        "value": None,
        "low": None,
        "high": None,
        "n": 0,
    }
    assert len(stats["history"]) == 12
    assert stats["model_version"] == trained
