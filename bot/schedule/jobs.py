"""The scheduled jobs, as plain functions of an ``AppContext``: `hitl clock` schedules them,
the CLI and tests call them directly."""

from __future__ import annotations

import logging

from bot.config import QueueConfig
from bot.context import AppContext
from bot.mrkdwn import escape
from bot.review.ingest import priority_for
from bot.review.scoring import assess, forced_review
from bot.runtime import describe_slack_failure
from models.registry import load_current
from models.retraining import RetrainResult, retrain
from models.routing import decide_route
from storage import outbox
from storage.labels import answers_after
from storage.pins import active_pin
from storage.registry import latest_version
from storage.rescoring import waiting_items

logger = logging.getLogger(__name__)


def retrain_queue(ctx: AppContext, queue: QueueConfig, *, announce: bool = True) -> RetrainResult:
    """Retrain, gate, and on promotion re-score the items still waiting to be posted.

    Every outcome is logged (``promoted <version>`` or ``not promoted: <reason>``); a candidate,
    promoted or not, is announced in the queue's channel. No candidate (the queue is pinned, or
    nothing new came in) is only logged: it would repeat on every schedule."""
    with ctx.sessions.begin() as session:
        result = retrain(
            session=session,
            queue=queue.name,
            kind=queue.kind,
            labels=queue.labels,
            min_reviewer_accuracy=queue.min_reviewer_accuracy,
        )
    if result.promoted:
        rescored = rescore_waiting(ctx, queue)
        logger.info(
            "%s: promoted %s; %d waiting items re-scored", queue.name, result.version, rescored
        )
    else:
        logger.info("%s: not promoted: %s", queue.name, result.reason)
    if announce and result.candidate:
        _announce(ctx, queue, result)
    return result


def rescore_waiting(ctx: AppContext, queue: QueueConfig) -> int:
    """Score waiting items with the current model and route them again: one the new model is
    sure of leaves the queue (unless it was drawn for audit, which keeps its sampling chance)."""
    with ctx.sessions.begin() as session:
        version, pipeline = load_current(session=session, queue=queue.name)
        items = waiting_items(session=session, queue=queue.name)
        if not items:
            return 0
        scored = assess(queue, version, pipeline, [item.payload for item in items])
        for item, s in zip(items, scored, strict=True):
            p, message = item.prediction, item.message
            assert p is not None and message is not None
            p.label, p.confidence, p.model_version_id = s.label, s.confidence, version.id
            # The card shows what the model now scoring it thought, and what it cannot vouch for.
            p.explanation, p.warnings = s.explanation, s.warnings or None
            if p.route == "gold":  # a control item stays one: it is there to measure people
                pass
            elif s.confidence < queue.review_below or forced_review(queue, s):
                p.route, p.audit_probability = "review", 1.0
            elif p.route == "review":
                decision = decide_route(
                    s.confidence,
                    review_below=queue.review_below,
                    audit_rate=queue.audit_rate,
                    rng=ctx.rng,
                )
                p.route, p.audit_probability = decision.route, decision.audit_probability
            if p.route == "auto":
                message.state = "withdrawn"
            message.priority = priority_for(queue, item.payload, s.confidence)
        return len(items)


def _announce(ctx: AppContext, queue: QueueConfig, result: RetrainResult) -> None:
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    figures = f"{result.metric} on the trusted hold-out {fmt(result.before)} → {fmt(result.after)}"
    if result.promoted:
        text = (
            f"🚀 *{escape(queue.name)}*: promoted {result.version} "
            f"(was {result.previous}). {figures}."
        )
    else:
        text = (
            f"🛑 *{escape(queue.name)}*: candidate {result.version} not promoted, "
            f"{result.previous} stays. {escape(result.reason)}"
        )
    try:
        ctx.client.chat_postMessage(channel=queue.channel, text=text[:3000])
    except Exception as exc:  # the retrain is done; a missed announcement is worth one line
        logger.warning(
            "could not announce the retrain of %s in %s: %s",
            queue.name,
            queue.channel,
            describe_slack_failure(exc),
        )


#: Pins already reported by ``retrain_if_enough_answers`` in this process: it runs every
#: minute, and "not promoted: pinned to …" once per pin is enough in a log.
_reported_pins: set[tuple[str, int]] = set()


def retrain_if_enough_answers(ctx: AppContext) -> list[RetrainResult]:
    """Retrain each queue with ``retrain_after_answers`` set once that many new answers came in
    since its last candidate (promoted or not: a rollback does not make old answers new).

    A pinned queue is not retrained; that is logged once per pin."""
    results = []
    for queue in ctx.config.queues.values():
        if not queue.retrain_after_answers:
            continue
        with ctx.sessions.begin() as session:
            last = latest_version(session=session, queue=queue.name)
            if last is None:
                continue
            mark = (last.info.get("data_mark") or {}).get("review", 0)
            fresh = answers_after(session=session, queue=queue.name, review_id=int(mark))
            pin = active_pin(session=session, queue=queue.name)
            pinned = None if pin is None else (pin.version, pin.id)
        if fresh < queue.retrain_after_answers:
            continue
        if pinned is not None:
            if (queue.name, pinned[1]) not in _reported_pins:
                _reported_pins.add((queue.name, pinned[1]))
                logger.info("%s: not promoted: pinned to %s", queue.name, pinned[0])
            continue
        results.append(retrain_queue(ctx, queue))
    return results


def retry_failed_deliveries(ctx: AppContext) -> int:
    with ctx.sessions.begin() as session:
        count = outbox.requeue_failed(session=session)
    if count:
        logger.info("%d failed deliveries queued again", count)
    return count
