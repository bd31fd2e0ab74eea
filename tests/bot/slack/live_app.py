"""The real web app of `hitl serve` in-process (FastAPI + Bolt, its deliverer run by hand), a
real database and the Slack stand-in; Slack's side signs its requests like Slack."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.api.app import build_web_app
from bot.context import AppContext
from bot.review.delivery import Deliverer
from bot.review.ingest import ingest, parse_batch
from bot.review.retry import RetryPolicy
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.app import build_bolt_app
from bot.slack.listeners.after_ack import AfterAck
from bot.slack_standin.clicks import (
    block_actions_payload,
    find_action,
    form_body,
    interactive_body,
    sign,
    slash_command_payload,
)
from bot.slack_standin.server import SlackStandin
from storage.db import make_engine, make_sessionmaker
from storage.tables import Item
from tests.factories import items_for, make_config, seed_model

SIGNING_SECRET = "live-app-signing-secret"
API_TOKEN = "live-app-api-token"


@dataclass
class LiveApp:
    ctx: AppContext
    http: TestClient
    standin: SlackStandin
    web: Any = None  # the ASGI app, to serve it over a real socket (``over_http``)

    def post_items(self, queue: str, items: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post(
            f"/v1/queues/{queue}/items",
            json={"items": items},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )

    def ingest(self, queue: str, n: int, *, prefix: str = "t") -> list[str]:
        config = self.ctx.config.queue(queue)
        batch = parse_batch({"items": items_for(n, prefix=prefix)}, queue=config)
        return [a.id for a in ingest(self.ctx, queue=config, items=batch)]

    def deliver(self) -> None:
        Deliverer(self.ctx).run_once()

    def item_pk(self, queue: str, external_id: str) -> int:
        with self.ctx.sessions.begin() as session:
            return int(
                session.scalar(
                    select(Item.id).where(Item.queue == queue, Item.external_id == external_id)
                )
            )

    def message_of(self, channel: str, external_id: str) -> dict[str, Any]:
        for message in self.standin.messages(channel):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("item_id") == external_id:
                return message
        raise LookupError(f"no message for {external_id} in {channel}")

    def send(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> Any:
        headers = {**sign(body, signing_secret=SIGNING_SECRET), "Content-Type": content_type}
        return self.http.post("/slack/events", content=body, headers=headers)

    def click(
        self,
        *,
        user: str,
        channel: str,
        message: dict[str, Any],
        predicate: Any,
        value: str | None = None,
        action_ts: str | None = None,
    ) -> Any:
        """A signed click on an element of ``message``; ``value`` replaces the element's value
        (what a forged click would carry)."""
        action = find_action(message, predicate)
        if value is not None:
            action = {**action, "value": value}
        payload = block_actions_payload(
            user_id=user, channel=channel, message=message, action=action, action_ts=action_ts
        )
        return self.send(interactive_body(payload))

    def command(self, *, text: str, user: str, channel: str, key: str) -> Any:
        """`/hitl TEXT`, answered through the stand-in's response_url sink ``key``."""
        fields = slash_command_payload(
            command="/hitl",
            text=text,
            user_id=user,
            channel_id=channel,
            response_url=self.standin.response_url(key),
        )
        return self.send(form_body(fields))

    def responses(self, key: str) -> list[Any]:
        return [c for c in self.standin.calls_to("response_url") if c.path.endswith(f"/{key}")]

    def click_private(
        self,
        *,
        user: str,
        channel: str,
        blocks: list[dict[str, Any]],
        predicate: Any,
        key: str,
        value: str | None = None,
    ) -> Any:
        """A signed click on a private (ephemeral) card, as `/hitl next` shows: Slack marks the
        container ``is_ephemeral`` and sends no ``message``."""
        action = find_action({"blocks": blocks}, predicate)
        if value is not None:
            action = {**action, "value": value}
        payload = block_actions_payload(
            user_id=user,
            channel=channel,
            message={"ts": "1700000000.000001", "blocks": blocks},
            action=action,
            response_url=self.standin.response_url(key),
        )
        payload["container"]["is_ephemeral"] = True
        del payload["message"]
        return self.send(interactive_body(payload))


@contextmanager
def live_app(
    database_url: str,
    *,
    queues: dict[str, dict[str, Any]],
    db_retry: RetryPolicy | None = None,
    sqlite_busy_timeout_ms: int | None = None,
    app_database_url: str | None = None,
) -> Iterator[LiveApp]:
    """``app_database_url``: where the app reaches the database (a proxy), when not directly."""
    with SlackStandin() as standin:
        ctx = build_context(
            Settings(database_url=database_url, hitl_api_token=API_TOKEN),
            config=make_config(**queues),
            token=standin.bot_token,
            api_url=standin.api_url,
            seed=0,
        )
        for name, fields in queues.items():
            if fields.get("kind", "tabular") == "tabular":
                seed_model(ctx.sessions, name)
        if app_database_url is not None or sqlite_busy_timeout_ms is not None:
            ctx.engine.dispose()
            extra = (
                {"sqlite_busy_timeout_ms": sqlite_busy_timeout_ms} if sqlite_busy_timeout_ms else {}
            )
            ctx.engine = make_engine(app_database_url or database_url, **extra)
            ctx.sessions = make_sessionmaker(ctx.engine)
        after = AfterAck(db_retry)
        bolt = build_bolt_app(ctx, signing_secret=SIGNING_SECRET, after=after)
        try:
            web = build_web_app(ctx, bolt)
            with TestClient(web) as http:
                yield LiveApp(ctx=ctx, http=http, standin=standin, web=web)
        finally:
            after.shutdown()  # the work of the test's last clicks, before Slack goes away
            ctx.engine.dispose()


@contextmanager
def over_http(web: Any) -> Iterator[tuple[str, int]]:
    """``web`` served by uvicorn on 127.0.0.1 in a thread, as `hitl serve` serves it; yields
    (host, port). Unlike TestClient, a real socket shows whether a connection survives."""
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
