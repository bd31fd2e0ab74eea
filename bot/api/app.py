"""The FastAPI app of `hitl serve`: Slack endpoint, ingestion API, health and metrics."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text

from bot.api.metrics import HttpMetricsMiddleware, Metrics
from bot.api.routes import build_api
from bot.context import AppContext
from storage.migrate import is_up_to_date


def build_web_app(
    ctx: AppContext,
    bolt: App,
    *,
    delivery_alive: Callable[[], bool] = lambda: True,
    standin_url: str | None = None,
) -> FastAPI:
    """``standin_url``: the process talks to the built-in Slack stand-in there (`--standin`);
    /healthz says so, since nothing it posts reaches a workspace."""
    web = FastAPI(title="hitl-review-bot", version="1")
    web.state.ctx = ctx
    web.include_router(build_api())
    web.add_middleware(HttpMetricsMiddleware)
    exposition = Metrics(ctx)

    @web.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        # Bolt's Starlette adapter dispatches on the event loop; a listener that waits on the
        # database or Slack would stall every other request, so dispatch in the thread pool.
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    @web.get("/healthz")
    def healthz() -> Response:
        problems = []
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if not is_up_to_date(ctx.engine):
                problems.append("database schema is not up to date (run `hitl db upgrade`)")
        except Exception as exc:
            problems.append(f"database unreachable: {type(exc).__name__}")
        if not delivery_alive():
            problems.append("delivery is failing (see the logs)")
        status = 503 if problems else 200
        lines = problems or ["ok"]
        if standin_url is not None:
            lines.append(
                f"slack: the built-in stand-in at {standin_url} (--standin): "
                "nothing reaches a Slack workspace"
            )
        return Response("\n".join(lines) + "\n", status_code=status, media_type="text/plain")

    @web.get("/metrics")
    def metrics() -> Response:
        return Response(exposition.render(), media_type=CONTENT_TYPE_LATEST)

    return web
