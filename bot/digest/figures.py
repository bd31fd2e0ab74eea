"""The figures of a queue's weekly digest: the last 7 days against the 7 before, plus 12 weeks of
history for the chart.

One function, ``digest_figures``, reads them (one grouped query per figure, see
``storage.digest_data``); the digest message, the chart, `hitl digest --dry-run` and
`GET /v1/queues/{queue}/stats` all render this same object. Unmeasured figures are ``None`` or an
unmeasured ``Estimate`` — a week nobody answered in says so instead of showing 0%.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.config import QueueConfig
from bot.digest.segments import SegmentFigure, segment_figures
from bot.masking import Masking
from models.estimates import (
    Estimate,
    fleiss_kappa,
    rating_table,
    weighted_proportion,
)
from models.gate import primary_metric
from models.reviewer_quality import ReviewerAccuracy
from models.trust import Trust, queue_trust
from storage import digest_data, trust_data
from storage.pins import pins_between
from storage.registry import current_version
from storage.segment_data import segment_rows

WEEK = timedelta(days=7)
HISTORY_WEEKS = 12
#: Re-draws of the corrected accuracy's interval: the two weeks the digest shows get the full
#: count, the ten older ones of the chart fewer (twelve intervals per digest).
SHOWN_REPLICATES, CHART_REPLICATES = 1000, 300


@dataclass(frozen=True)
class VersionChange:
    """A model version decided in the period: promoted, rejected by the gate, or rolled back to
    (by someone: ``by``; ``pinned`` while the rollback still holds the queue there)."""

    version: str
    outcome: str  # promoted | rejected | rolled_back
    at: datetime
    metric: str | None  # e.g. average_precision
    before: float | None  # the current model's metric on the trusted hold-out
    after: float | None  # the candidate's
    reason: str | None  # why a rejected candidate was kept out
    by: str | None = None  # who rolled back
    pinned: bool = False  # the rollback still holds (until `hitl unpin`)


@dataclass(frozen=True)
class PeriodFigures:
    """What happened in one period ``[start, end)``."""

    start: datetime
    end: datetime
    #: Items scored (received) in the period.
    items: int
    #: Items scored in the period by route: ``review``, ``audit``, ``auto`` (all three keys).
    routed: dict[str, int]
    #: Items resolved by people in the period.
    answered: int
    #: Seconds from posting to resolution of the items answered in the period.
    answer_seconds_median: float | None
    answer_seconds_p90: float | None
    #: Accuracy of automatic decisions, from audit items answered in the period (weighted),
    #: corrected for the reviewers' measured error (``models.corrected_accuracy``).
    automatic_accuracy: Estimate
    #: Of the reviewed/audited items answered in the period where the model said the positive
    #: label (every label for multi-class queues), the share people confirmed.
    confirmed: Estimate
    #: Fleiss' kappa over items answered in the period with ``votes_required`` > 1 votes; None
    #: for single-vote queues or when not computable.
    agreement: float | None
    agreement_items: int
    #: Votes (not undone) cast in the period, by Slack user id, most first.
    answers_by_reviewer: dict[str, int]
    versions: list[VersionChange] = field(default_factory=list)
    #: The raw share of those audit answers that agreed with the model (not corrected).
    automatic_agreement: Estimate = field(default_factory=Estimate.unmeasured)
    #: What ``automatic_accuracy`` rests on, in words ("corrected for reviewer error measured on
    #: 48 control answers", or why it is not corrected).
    accuracy_note: str = ""

    @property
    def empty(self) -> bool:
        """Nothing came in and nobody answered: the digest says so instead of showing zeros
        (a model version decided that week is still listed)."""
        return self.items == 0 and self.answered == 0


@dataclass(frozen=True)
class VersionMark:
    """A version made current in a week of the chart: promoted, or rolled back to."""

    week: int  # index in ``history``
    version: str
    rollback: bool


@dataclass(frozen=True)
class WeekPoint:
    """One week of the chart's history."""

    start: datetime
    automatic_accuracy: Estimate
    answered: int


@dataclass(frozen=True)
class DigestFigures:
    queue: str
    #: The digest's moment: ``this_week`` ends here.
    now: datetime
    model_version: str | None
    #: True when the queue has never scored an item (a brand-new queue).
    new_queue: bool
    #: Votes that resolve an item: agreement is only measured when it is more than 1.
    votes_required: int
    this_week: PeriodFigures
    last_week: PeriodFigures
    #: Items people still have to answer: waiting to be posted, being posted, or posted.
    backlog: int
    #: When the oldest of those came in; None without a backlog.
    oldest_waiting: datetime | None
    #: ``HISTORY_WEEKS`` weeks, oldest first, the last one being ``this_week``.
    history: list[WeekPoint]
    #: Per segment name of the queue's ``segments``, over the ``history`` weeks (one week holds
    #: too few audits per segment): ``bot.digest.segments``.
    segments: dict[str, list[SegmentFigure]] = field(default_factory=dict)
    #: Versions made current in the ``history`` weeks, marked on the chart at their week.
    marks: list[VersionMark] = field(default_factory=list)
    #: Each reviewer's accuracy on control items and outcomes (all time), flagged or not.
    reviewer_accuracy: dict[str, ReviewerAccuracy] = field(default_factory=dict)


def digest_figures(*, session: Session, queue: QueueConfig, now: datetime) -> DigestFigures:
    """The digest of ``queue`` for the 7 days before ``now``, with 11 more weeks of history."""
    bounds = [now - WEEK * (HISTORY_WEEKS - i) for i in range(HISTORY_WEEKS + 1)]
    this, last = HISTORY_WEEKS - 1, HISTORY_WEEKS - 2
    recent = bounds[last:]
    routed = digest_data.routed_by_week(session=session, queue=queue.name, bounds=recent)
    times = digest_data.answer_times(session=session, queue=queue.name, bounds=recent)
    answered = digest_data.answered_by_week(session=session, queue=queue.name, bounds=bounds)
    answers = digest_data.answered_predictions(session=session, queue=queue.name, bounds=bounds)
    trust = _weekly_trust(session, queue, bounds)
    votes = (
        digest_data.votes_of_resolved(session=session, queue=queue.name, bounds=recent)
        if queue.votes_required > 1
        else {}
    )
    reviewers = digest_data.answers_by_reviewer(session=session, queue=queue.name, bounds=recent)
    versions = digest_data.decided_versions(
        session=session, queue=queue.name, start=recent[0], end=recent[-1]
    )
    rollbacks = pins_between(session=session, queue=queue.name, start=recent[0], end=recent[-1])
    accuracy = {week: trust[week].accuracy.estimate for week in range(HISTORY_WEEKS)}
    metric = primary_metric(queue.labels)

    def period(week: int) -> PeriodFigures:
        local = week - last  # index within ``recent``
        seconds = sorted(times.get(local, []))
        kappa, kappa_items = _agreement(votes.get(local, []), queue)
        return PeriodFigures(
            start=bounds[week],
            end=bounds[week + 1],
            items=sum(routed.get(local, {}).values()),
            routed={r: routed.get(local, {}).get(r, 0) for r in ("review", "audit", "auto")},
            answered=answered.get(week, 0),
            answer_seconds_median=statistics.median(seconds) if seconds else None,
            answer_seconds_p90=_percentile(seconds, 0.9),
            automatic_accuracy=accuracy[week],
            automatic_agreement=trust[week].agreement,
            accuracy_note=trust[week].accuracy.note if trust[week].agreement.n else "",
            confirmed=_confirmed([a for a in answers if a.week == week], queue),
            agreement=kappa,
            agreement_items=kappa_items,
            answers_by_reviewer=dict(
                sorted(reviewers.get(local, {}).items(), key=lambda kv: (-kv[1], kv[0]))
            ),
            versions=[
                _change(v, metric)
                for v in versions
                if bounds[week] <= _decided_at(v) < bounds[week + 1]
            ]
            + [
                VersionChange(
                    version=pin.version,
                    outcome="rolled_back",
                    at=pin.pinned_at,
                    metric=None,
                    before=None,
                    after=None,
                    reason=None,
                    by=pin.pinned_by,
                    pinned=pin.unpinned_at is None,
                )
                for pin in rollbacks
                if bounds[week] <= pin.pinned_at < bounds[week + 1]
            ],
        )

    current = current_version(session=session, queue=queue.name)
    waiting, oldest = digest_data.backlog(session=session, queue=queue.name)
    return DigestFigures(
        queue=queue.name,
        now=now,
        model_version=current.version if current else None,
        new_queue=not digest_data.has_items(session=session, queue=queue.name),
        votes_required=queue.votes_required,
        this_week=period(this),
        last_week=period(last),
        backlog=waiting,
        oldest_waiting=oldest,
        history=[
            WeekPoint(start=bounds[w], automatic_accuracy=accuracy[w], answered=answered.get(w, 0))
            for w in range(HISTORY_WEEKS)
        ],
        segments=_segments(session, queue, since=bounds[0], until=bounds[-1]),
        marks=_marks(session, queue.name, bounds),
        reviewer_accuracy=trust[this].reviewers,
    )


def _marks(session: Session, queue: str, bounds: list[datetime]) -> list[VersionMark]:
    """The chart's marks: versions promoted, and rollbacks (pins), at their week."""
    start, end = bounds[0], bounds[-1]
    promoted = [
        VersionMark(digest_data.week_index(at, bounds), version, rollback=False)
        for version, at in digest_data.promotions(
            session=session, queue=queue, start=start, end=end
        )
    ]
    rolled_back = [
        VersionMark(digest_data.week_index(pin.pinned_at, bounds), pin.version, rollback=True)
        for pin in pins_between(session=session, queue=queue, start=start, end=end)
    ]
    return sorted(promoted + rolled_back, key=lambda mark: mark.week)


def _segments(
    session: Session, queue: QueueConfig, *, since: datetime, until: datetime
) -> dict[str, list[SegmentFigure]]:
    if not queue.segments:
        return {}
    rows = segment_rows(
        session=session, queue=queue.name, names=queue.segments, since=since, until=until
    )
    masking = Masking.of(queue.mask_fields, queue.mask_patterns)
    return segment_figures(rows, queue.segments, masking=masking)


def _weekly_trust(session: Session, queue: QueueConfig, bounds: list[datetime]) -> list[Trust]:
    """Each week's trust figures: its audit answers, corrected with every checked answer so far
    (a reviewer's error rate is theirs, not a week's), weighted by that week's mix of automatic
    decisions."""
    audits = trust_data.audit_counts(session=session, queues=[queue.name], bounds=bounds)
    checks = trust_data.checked_counts(session=session, queues=[queue.name])
    mixes = trust_data.automatic_mix_by_week(session=session, queue=queue.name, bounds=bounds)
    item_votes = (
        trust_data.audit_item_votes(session=session, queue=queue.name)
        if queue.votes_required > 1
        else None
    )
    flagged = None
    result = []
    for week in range(HISTORY_WEEKS):
        shown = week >= HISTORY_WEEKS - 2
        trust = queue_trust(
            labels=queue.labels,
            audits=[a for a in audits if a.week == week],
            checks=checks,
            min_reviewer_accuracy=queue.min_reviewer_accuracy,
            votes_required=queue.votes_required,
            mix=mixes.get(week),
            flagged=flagged,
            replicates=SHOWN_REPLICATES if shown else CHART_REPLICATES,
            item_votes=item_votes,
        )
        flagged = trust.flagged
        result.append(trust)
    return result


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), without numpy for a handful of rows."""
    if not sorted_values:
        return None
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def _confirmed(answers: list[digest_data.AnsweredPrediction], queue: QueueConfig) -> Estimate:
    """How often people confirmed what the model said on the items they saw. For a binary queue
    only the model's positive calls count (the alerts); every call for multi-class queues.
    Unweighted: it describes the items people were shown, not the whole stream."""
    shown = [
        a for a in answers if queue.positive_label is None or a.predicted == queue.positive_label
    ]
    return weighted_proportion([a.predicted == a.answer for a in shown], [1.0] * len(shown))


def _agreement(items: list[list[str]], queue: QueueConfig) -> tuple[float | None, int]:
    complete = [labels for labels in items if len(labels) == queue.votes_required]
    if queue.votes_required < 2 or not complete:
        return None, 0
    return fleiss_kappa(rating_table(complete, queue.labels)), len(complete)


def _decided_at(v: digest_data.DecidedVersion) -> datetime:
    return v.created_at if v.state == "rejected" or v.promoted_at is None else v.promoted_at


def _change(v: digest_data.DecidedVersion, metric: str) -> VersionChange:
    """A retrained version compares with the model it challenged on the trusted hold-out; a
    queue's first model has nothing to compare with, only its own hold-out score."""
    rejected = v.state == "rejected"
    gate = v.metrics.get("gate")
    if gate:
        # The trusted hold-out's ranking metric against the model it challenged (versions made
        # before the gate judged several metrics stored that one comparison first).
        quoted = [
            s
            for s in gate
            if s.get("name") == "trusted_holdout"
            and s.get("metric", metric) == metric
            and not s.get("against")
        ]
        first = quoted[0] if quoted else gate[0]
        before, after = first.get("current"), first.get("candidate")
    else:
        before, after = None, (v.metrics.get("holdout") or {}).get(metric)
    return VersionChange(
        version=v.version,
        outcome="rejected" if rejected else "promoted",
        at=_decided_at(v),
        metric=metric if after is not None else None,
        before=before,
        after=after,
        reason=v.info.get("reason") if rejected else None,
    )
