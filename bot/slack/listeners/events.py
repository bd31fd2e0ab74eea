"""Events API: App Home, published for the person who opened it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.context import AppContext
from bot.review.cards import masking_of
from bot.review.reviewers import ReviewerDirectory
from bot.slack.home import (
    WAITING_SHOWN,
    FlaggedReviewer,
    HomeData,
    QueueCard,
    Rollback,
    home_view,
)
from bot.slack.listeners.after_ack import AfterAck
from models.trust import queue_trust
from storage.home_data import AnswerSummary, Waiting, answers_of, queue_backlogs, waiting_for
from storage.pins import active_pins
from storage.trust_data import audit_counts, automatic_mixes, checked_counts

ANSWERS_DAYS = 7


def load_home(
    ctx: AppContext, directory: ReviewerDirectory, user_id: str, *, now: datetime
) -> HomeData:
    """Everything App Home shows ``user_id``: a handful of grouped queries in one transaction."""
    queues = list(ctx.config.queues.values())
    names = [q.name for q in queues]
    # Queues without reviewers count only if the person is in their channel (one cached
    # conversations.members per queue): items are listed only to those who may answer them.
    allowed = {q.name for q in queues if directory.may_answer(q, user_id)}
    with ctx.sessions.begin() as session:
        waiting = waiting_for(
            session=session, user_id=user_id, queues=sorted(allowed), limit=WAITING_SHOWN
        )
        answers = answers_of(
            session=session,
            user_id=user_id,
            queues=names,
            since=now - timedelta(days=ANSWERS_DAYS),
        )
        backlogs = queue_backlogs(session=session, queues=names)
        audits = audit_counts(session=session, queues=names)
        checks = checked_counts(session=session, queues=names)
        mixes = automatic_mixes(session=session, queues=names)
        pins = active_pins(session=session, queues=names)
    cards = []
    for q in queues:
        trust = queue_trust(
            labels=q.labels,
            audits=[a for a in audits if a.queue == q.name],
            checks=[c for c in checks if c.queue == q.name],
            min_reviewer_accuracy=q.min_reviewer_accuracy,
            votes_required=q.votes_required,
            mix=mixes.get(q.name),
        )
        pin = pins.get(q.name)
        rollback = None if pin is None else Rollback(pin.version, pin.pinned_by, pin.pinned_at)
        cards.append(
            QueueCard(
                queue=q.name,
                channel=q.channel,
                model_version=backlogs[q.name].model_version,
                waiting=backlogs[q.name].waiting,
                open=backlogs[q.name].open,
                failed=backlogs[q.name].failed,
                accuracy=trust.accuracy.estimate,
                accuracy_note=trust.accuracy.note if trust.accuracy.estimate.n else "",
                may_answer=q.name in allowed,
                rollback=rollback,
                flagged=tuple(
                    FlaggedReviewer(user, trust.reviewers[user].estimate)
                    for user in sorted(trust.flagged)
                ),
                # Who is flagged is for the queue's admins, not for everyone who opens Home.
                is_admin=bool(q.admins) and directory.is_one_of(q.admins, user_id),
                blind=q.blind_audit,
            )
        )
    waiting, answers = _masked(ctx, waiting, answers)
    return HomeData(user_id, now, waiting, answers, ANSWERS_DAYS, cards)


def _masked(
    ctx: AppContext, waiting: Waiting, answers: AnswerSummary
) -> tuple[Waiting, AnswerSummary]:
    """Item ids as cards show them: masked by each queue's ``mask_patterns``."""
    masks = {name: masking_of(q) for name, q in ctx.config.queues.items()}

    def shown(queue: str, item_id: str) -> str:
        masking = masks.get(queue)
        return masking.text(item_id) if masking is not None else item_id

    items = [replace(i, item_id=shown(i.queue, i.item_id)) for i in waiting.items]
    recent = [replace(a, item_id=shown(a.queue, a.item_id)) for a in answers.recent]
    return replace(waiting, items=items), replace(answers, recent=recent)


def register(app: App, ctx: AppContext, directory: ReviewerDirectory, after: AfterAck) -> None:
    def publish(user: str, client: WebClient) -> None:
        data = load_home(ctx, directory, user, now=datetime.now(UTC))
        client.views_publish(user_id=user, view=home_view(data))

    def on_home_opened(
        body: dict[str, Any], event: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        # Events are acknowledged by Bolt before this runs; the work goes to AfterAck's pool.
        if event.get("tab", "home") != "home" or not isinstance(event.get("user"), str):
            return
        after.submit(body, client, respond, lambda: publish(event["user"], client))

    app.event("app_home_opened")(on_home_opened)
