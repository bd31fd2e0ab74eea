"""The FastAPI app of `hitl serve`: Slack endpoint, ingestion API, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.api.body_limit import BodyLimit
from bot.api.errors import add_error_handlers
from bot.api.metrics import HttpMetricsMiddleware, Metrics
from bot.api.model_health import ModelProblems
from bot.api.routes import build_api
from bot.api.slack_requests import SlackRequestProblem, check_slack_request
from bot.context import AppContext
from storage.migrate import is_up_to_date

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
SLACK_MAX_BODY_BYTES = 1024 * 1024  # Slack's own requests are a few kB


def build_web_app(
    ctx: AppContext,
    bolt: App,
    *,
    delivery_alive: Callable[[], bool] = lambda: True,
    standin_url: str | None = None,
    signing_secret: str | None = None,
) -> FastAPI:
    """``standin_url``: the process talks to the built-in Slack stand-in there (`--standin`);
    /healthz says so, since nothing it posts reaches a workspace. ``signing_secret``: what
    Slack's requests are verified with before Bolt sees them; by default the Bolt app's own
    (Bolt keeps it but offers no accessor)."""
    secret = signing_secret if signing_secret is not None else str(bolt._signing_secret)
    web = FastAPI(title="hitl-review-bot", version="1")
    web.state.ctx = ctx
    web.state.model_problems = model_problems = ModelProblems()
    web.add_middleware(BodyLimit, limits={SLACK_PATH: SLACK_MAX_BODY_BYTES})
    add_error_handlers(web)
    web.include_router(build_api())
    web.add_middleware(HttpMetricsMiddleware)
    exposition = Metrics(ctx)

    @web.post(SLACK_PATH)
    async def slack_events(request: Request) -> Response:
        body = await request.body()  # at most SLACK_MAX_BODY_BYTES: BodyLimit refused more
        try:
            check_slack_request(body, request.headers, signing_secret=secret)
        except SlackRequestProblem as problem:
            return JSONResponse({"detail": problem.message}, status_code=problem.status)
        bolt_request = to_bolt_request(request, body)
        try:
            # Bolt's Starlette adapter dispatches on the event loop; a listener that waits on
            # the database or Slack would stall every other request, so dispatch in the pool.
            bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        except Exception as exc:  # a signed request of a shape Bolt cannot match
            logger.warning("Slack request refused, Bolt could not read it: %r", exc)
            detail = f"a Slack request this app cannot read ({type(exc).__name__})"
            return JSONResponse({"detail": detail}, status_code=400)
        if bolt_response.status >= 500:
            # Bolt answers 500 when one of its middlewares fails on a payload it cannot read
            # (listeners acknowledge first, so their own failures are told to the clicker).
            logger.warning("Slack request refused: Bolt answered %s", bolt_response.status)
            detail = "a Slack request this app cannot read"
            return JSONResponse({"detail": detail}, status_code=400)
        return to_starlette_response(bolt_response)

    @web.get("/healthz")
    def healthz() -> Response:
        """200 "ok", or 503 with one line per problem: the database, the schema, a queue whose
        model cannot be loaded, the deliverer."""
        problems = []
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if not is_up_to_date(ctx.engine):
                problems.append("database schema is not up to date (run `hitl db upgrade`)")
        except Exception as exc:
            problems.append(f"database unreachable: {type(exc).__name__}")
        if not problems:  # the models live in the database
            try:
                problems += model_problems.check(ctx)
            except SQLAlchemyError as exc:
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
