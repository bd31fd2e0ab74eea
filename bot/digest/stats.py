"""A queue's figures: volumes, and accuracy estimated from audits with 95% intervals.

One module behind `GET /v1/queues/{queue}/stats`, `hitl stats` and `/hitl stats`; the weekly
part (``this_week``, ``last_week``, ``backlog``, ``history``) is the digest's own
``DigestFigures``, so the API and the digest can never disagree. Unmeasured figures are ``None``
("not measured yet"), never a zero that looks measured.

``automatic_accuracy`` is corrected for the reviewers' own error (``models.trust``), and
``accuracy_basis`` says what it rests on; ``automatic_agreement`` keeps the raw share of audits
where reviewers agreed with the model. ``reviewer_accuracy`` comes from control items and
outcomes, with each reviewer's flag.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config import QueueConfig
from bot.digest.figures import digest_figures
from bot.digest.segments import segment_figures, segments_json
from models.estimates import (
    AuditAnswer,
    fleiss_kappa,
    positive_precision_recall,
    rating_table,
)
from models.trust import queue_trust
from storage.overview import queue_overviews
from storage.segment_data import segment_rows
from storage.stats_data import active_votes_by_item, audit_answers, control_item_count
from storage.trust_data import audit_counts, audit_item_votes, automatic_mix, checked_counts


def queue_stats(
    *, session: Session, queue: QueueConfig, now: datetime | None = None, weekly: bool = True
) -> dict[str, Any]:
    """The figures; ``weekly=False`` leaves out the digest's weekly part (a dozen queries over
    12 weeks) for callers that do not show it, `hitl stats` and `/hitl stats`."""
    overview = queue_overviews(session=session, queues=[queue.name])[queue.name]
    audits = [
        AuditAnswer(predicted=p, truth=t, sampling_probability=w)
        for p, t, w in audit_answers(session=session, queue=queue.name)
    ]
    figures: dict[str, Any] = {
        "queue": queue.name,
        "model_version": overview.model_version,
        "items": overview.items,
        "routed": overview.routed,
        "answered": overview.answered,
        "waiting": overview.waiting,
        "open": overview.open,
        "control_items": control_item_count(session=session, queue=queue.name),
    }
    trust = queue_trust(
        labels=queue.labels,
        audits=audit_counts(session=session, queues=[queue.name]),
        checks=checked_counts(session=session, queues=[queue.name]),
        min_reviewer_accuracy=queue.min_reviewer_accuracy,
        votes_required=queue.votes_required,
        mix=automatic_mix(session=session, queue=queue.name),
        item_votes=audit_item_votes(session=session, queue=queue.name)
        if queue.votes_required > 1
        else None,
    )
    figures["automatic_accuracy"] = asdict(trust.accuracy.estimate)
    figures["accuracy_basis"] = trust.accuracy.as_dict()
    figures["automatic_agreement"] = asdict(trust.agreement)
    if queue.positive_label is not None:
        precision, recall = positive_precision_recall(audits, queue.positive_label)
        figures["positive_precision"] = asdict(precision)
        figures["positive_recall"] = asdict(recall)
    votes = active_votes_by_item(session=session, queue=queue.name)
    complete = [[label for _, label in v] for v in votes.values() if len(v) == queue.votes_required]
    figures["reviewer_agreement"] = (
        {"fleiss_kappa": fleiss_kappa(rating_table(complete, queue.labels)), "items": len(complete)}
        if queue.votes_required > 1
        else None
    )
    figures["reviewer_accuracy"] = {user: a.as_dict() for user, a in trust.reviewers.items()}
    figures["flagged_reviewers"] = sorted(trust.flagged)
    if queue.segments:
        rows = segment_rows(session=session, queue=queue.name, names=queue.segments)
        figures["segments"] = segments_json(segment_figures(rows, queue.segments))
    if not weekly:
        return figures
    digest = asdict(digest_figures(session=session, queue=queue, now=now or datetime.now(UTC)))
    for key in (
        "now",
        "new_queue",
        "this_week",
        "last_week",
        "backlog",
        "oldest_waiting",
        "history",
    ):
        figures[key] = digest[key]
    return figures
