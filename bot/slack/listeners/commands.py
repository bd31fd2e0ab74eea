"""The `/hitl` slash command: ``ack()`` at once, then the work, answered through ``respond``.

Bolt answers Slack's HTTP request as soon as ``ack()`` is called (``process_before_response``
is off); the work then runs on ``AfterAck``'s pool, not Bolt's, so a retrain of a minute holds
back no other request's acknowledgement. Answers go to the command's
``response_url``: ephemeral, and they work in any channel, even one the bot is not in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.config import QueueConfig
from bot.context import AppContext
from bot.digest.stats import queue_stats
from bot.errors import HitlError
from bot.mrkdwn import escape_and_truncate, mention, truncate
from bot.review import answers
from bot.review.reviewers import ReviewerDirectory
from bot.schedule.jobs import retrain_queue
from bot.slack.command_texts import UsageError, next_intro, parse_command, stats_text, usage_text
from bot.slack.listeners.after_ack import AfterAck
from models.control_items import behind_on_control
from models.errors import ModelError
from storage.control import answers_by_user
from storage.home_data import waiting_for
from storage.private_cards import remember_private_card

logger = logging.getLogger(__name__)

MESSAGE_TEXT = 39_000  # Slack cuts message text at 40,000 characters


def _who(principals: Sequence[str]) -> str:
    # User groups are named, never mentioned: a mention of a group would notify all of it.
    return ", ".join(mention(p) if p[0] in "UW" else f"the user group `{p}`" for p in principals)


def register(app: App, ctx: AppContext, directory: ReviewerDirectory, after: AfterAck) -> None:
    # By name, made on first use: a queue added by a config reload has one too.
    retraining: dict[str, threading.Lock] = {}

    def stats(queue: str | None, respond: Respond) -> None:
        names = [queue] if queue else list(ctx.config.queues)
        with ctx.sessions.begin() as session:
            texts = [
                stats_text(queue_stats(session=session, queue=ctx.config.queue(q), weekly=False))
                for q in names
            ]
        # Figures and config names only (no item text): a plain cut cannot split an entity.
        respond(text=truncate("\n\n".join(texts), MESSAGE_TEXT), response_type="ephemeral")

    def next_item(queue: str | None, user: str, respond: Respond) -> None:
        asked = [ctx.config.queue(queue)] if queue else list(ctx.config.queues.values())
        # Typed anywhere, so nothing proves channel membership: queues without reviewers ask
        # Slack (conversations.members) whether the user is in their channel.
        allowed = [q.name for q in asked if directory.may_answer(q, user)]
        where = f"*{escape_and_truncate(queue, 64)}*" if queue else "any queue"
        if not allowed:
            respond(text=f"You are not a reviewer of {where}.", response_type="ephemeral")
            return
        with ctx.sessions.begin() as session:
            # Someone behind their fair share of control items gets an open one first: the
            # channel's own card, so nobody ever sees a control case twice (models.control_items).
            behind = any(
                behind_on_control(user, *answers_by_user(session=session, queue=q), gold_rate=g)
                for q, g in ((q, ctx.config.queue(q).gold_rate) for q in allowed)
            )
            waiting = waiting_for(
                session=session, user_id=user, queues=allowed, limit=1, control_first=behind
            )
        if not waiting.items:
            respond(text=f"Nothing is waiting for your answer in {where}. 🎉")
            return
        item = waiting.items[0]
        with ctx.sessions.begin() as session:
            # A click on this private card will count for this item, for this person only.
            remember_private_card(session=session, user_id=user, item_pk=item.item_pk)
        text, blocks = answers.render_current(ctx, item.item_pk)
        respond(
            text=text,
            blocks=[next_intro(item, waiting.total), *blocks],
            response_type="ephemeral",
        )

    def retrain(queue: QueueConfig, user: str, respond: Respond) -> None:
        name = f"*{escape_and_truncate(queue.name, 64)}*"
        if not directory.is_one_of(queue.admins, user):
            who = _who(queue.admins)
            respond(
                text=f"Only the admins of {name} may retrain it: {who}."
                if who
                else f"Nobody may retrain {name} from Slack: its `admins` list is empty"
                f" (`hitl retrain {queue.name}` works from a shell)."
            )
            return
        lock = retraining.setdefault(queue.name, threading.Lock())  # atomic under the GIL
        if not lock.acquire(blocking=False):
            respond(text=f"{name} is already being retrained; its result will be posted here.")
            return
        try:
            respond(text=f"Retraining {name}…")
            result = retrain_queue(ctx, queue)
        except (HitlError, ModelError) as exc:
            respond(text=f"{name} was not retrained: {escape_and_truncate(str(exc), 2000)}")
            return
        except Exception:
            # The admin is waiting for an answer: say it failed, not silence.
            logger.exception("retrain of %s from /hitl failed", queue.name)
            respond(text=f"Retraining {name} failed; the error is logged.")
            return
        finally:
            lock.release()
        respond(
            text=f"{name}: promoted {result.version}"
            if result.promoted
            else f"{name}: not promoted: {escape_and_truncate(result.reason, 2000)}"
        )

    def run(command: dict[str, Any], respond: Respond) -> None:
        user = command["user_id"]
        try:
            parsed = parse_command(command.get("text") or "", list(ctx.config.queues))
        except UsageError as problem:
            respond(text=usage_text(list(ctx.config.queues), str(problem)))
            return
        if parsed.sub == "stats":
            stats(parsed.queue, respond)
        elif parsed.sub == "next":
            next_item(parsed.queue, user, respond)
        elif parsed.sub == "retrain":
            assert parsed.queue is not None
            retrain(ctx.config.queue(parsed.queue), user, respond)
        else:
            respond(text=usage_text(list(ctx.config.queues)))

    def on_hitl(
        ack: Ack, body: dict[str, Any], command: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        after.submit(body, client, respond, lambda: run(command, respond))

    app.command("/hitl")(on_hitl)
