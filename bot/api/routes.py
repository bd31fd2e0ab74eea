"""The ingestion API under ``/v1``: bearer token, JSON, errors that name the item and field."""

import hmac
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from bot.api.item_views import item_view, label_rows
from bot.config import QueueConfig
from bot.context import AppContext
from bot.digest.stats import queue_stats
from bot.errors import UnknownQueue
from bot.instruments import MISSING_FEATURE_WARNINGS
from bot.review.ingest import BatchError, ingest, parse_batch, queue_warnings, warning_counts
from bot.review.outcomes import OutcomeError, parse_outcomes, record_outcomes
from models.errors import ArtifactIntegrityError, ModelNotTrained
from storage.errors import ItemNotFound
from storage.items import get_item

MAX_BODY_BYTES = 5 * 1024 * 1024


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def authorized(request: Request, ctx: CtxDep) -> None:
    token = ctx.settings.hitl_api_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value() if token is not None else None
    if (
        not expected  # no token, or an empty one: an empty bearer must not match it
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise HTTPException(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})


def queue_config(queue: str, ctx: CtxDep) -> QueueConfig:
    try:
        return ctx.config.queue(queue)
    except UnknownQueue as exc:
        raise HTTPException(404, str(exc)) from None


QueueDep = Annotated[QueueConfig, Depends(queue_config)]


async def json_body(request: Request) -> Any:
    """The parsed body, refused with 413 as soon as it passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except RecursionError:
        raise HTTPException(
            422, [{"loc": ["body"], "msg": "nested too deeply", "type": "json_invalid"}]
        ) from None
    except ValueError as exc:
        raise HTTPException(
            422, [{"loc": ["body"], "msg": f"not valid JSON: {exc}", "type": "json_invalid"}]
        ) from None


def build_api() -> APIRouter:
    """The /v1 routes; they find the ``AppContext`` in ``app.state.ctx``."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])

    @router.post("/queues/{queue}/items")
    async def post_items(queue: QueueDep, request: Request, ctx: CtxDep) -> JSONResponse:
        data = await json_body(request)
        try:
            items = parse_batch(data, queue=queue)
            answers = await run_in_threadpool(ingest, ctx, queue=queue, items=items)
        except BatchError as exc:
            raise HTTPException(422, exc.errors) from None
        except ModelNotTrained as exc:
            raise HTTPException(409, str(exc)) from None
        except ArtifactIntegrityError as exc:  # stored bytes refused: nothing can be scored
            request.app.state.model_problems.note(queue.name, str(exc))
            raise HTTPException(503, f"queue {queue.name!r}: {exc}") from None
        request.app.state.model_problems.note(queue.name, None)
        for code, n in warning_counts(answers).items():
            MISSING_FEATURE_WARNINGS.labels(queue=queue.name, code=code).inc(n)
        body: dict[str, Any] = {"items": [a.as_dict() for a in answers]}
        # Config names that match nothing: said on every batch until the config is fixed.
        warnings = await run_in_threadpool(queue_warnings, ctx, queue=queue)
        if warnings:
            body["warnings"] = warnings
        return JSONResponse(body)

    # `:path`: producer ids may hold a slash ("order/2024/7"), percent-encoded in the URL.
    @router.get("/queues/{queue}/items/{item_id:path}")
    def get_one(queue: QueueDep, item_id: str, ctx: CtxDep) -> dict[str, Any]:
        if "\x00" in item_id or len(item_id) > 255:  # no stored id looks like that
            raise HTTPException(404, f"no item {item_id[:100]!r} in queue {queue.name!r}")
        with ctx.sessions.begin() as session:
            try:
                item = get_item(session=session, queue=queue.name, external_id=item_id)
            except ItemNotFound as exc:
                raise HTTPException(404, str(exc)) from None
            return item_view(session, item)

    @router.get("/queues/{queue}/labels")
    def labels(queue: QueueDep, ctx: CtxDep) -> StreamingResponse:
        def lines() -> Iterator[str]:
            for row in label_rows(ctx.sessions, queue=queue.name):
                yield json.dumps(row) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @router.get("/queues/{queue}/stats")
    def stats(queue: QueueDep, ctx: CtxDep) -> dict[str, Any]:
        with ctx.sessions.begin() as session:
            return queue_stats(session=session, queue=queue)

    @router.post("/queues/{queue}/outcomes")
    async def post_outcomes(queue: QueueDep, request: Request, ctx: CtxDep) -> dict[str, Any]:
        data = await json_body(request)
        try:
            outcomes = parse_outcomes(data, queue=queue)
            stored = await run_in_threadpool(record_outcomes, ctx, queue=queue, outcomes=outcomes)
        except OutcomeError as exc:
            raise HTTPException(exc.status, exc.errors) from None
        return {"stored": stored}

    return router
