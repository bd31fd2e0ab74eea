"""Trust in answers, put together for one queue: who is flagged, how accurate the automatic
decisions are once reviewer error is corrected, and the raw agreement beside it.

One function behind `GET …/stats`, `hitl stats`, `/hitl stats`, the digest and App Home, so they
can never disagree. Its inputs are the grouped counts of ``storage.trust_data``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.corrected_accuracy import (
    REPLICATES,
    AuditVote,
    CorrectedAccuracy,
    corrected_accuracy,
)
from models.estimates import Estimate, weighted_proportion
from models.reviewer_quality import (
    ReviewerAccuracy,
    as_checks,
    cross_checks,
    flagged_reviewers,
    reviewer_accuracy,
)
from storage.trust_data import AuditCount, CheckedCount


@dataclass(frozen=True)
class Trust:
    #: Accuracy of automatic decisions, corrected for reviewer error (or said not to be).
    accuracy: CorrectedAccuracy
    #: The raw share of audit answers agreeing with the model (what the figure used to be).
    agreement: Estimate
    reviewers: dict[str, ReviewerAccuracy]
    flagged: frozenset[str]


def audit_votes(counts: Sequence[AuditCount], votes_required: int) -> list[AuditVote]:
    """Stored audit counts as the estimator's votes; an item's votes share its weight."""
    share = 1.0 / max(1, votes_required)
    return [
        AuditVote(c.user, c.predicted, c.answer, c.probability, c.count, share)
        for c in counts
        if c.probability > 0
    ]


def agreement(votes: Sequence[AuditVote]) -> Estimate:
    """The weighted share of audit answers that agree with the model: uncorrected."""
    hits = [v.predicted == v.answer for v in votes for _ in range(v.count)]
    weights = [v.share / v.sampling_probability for v in votes for _ in range(v.count)]
    return weighted_proportion(hits, weights)


def queue_trust(
    *,
    labels: Sequence[str],
    audits: Sequence[AuditCount],
    checks: Sequence[CheckedCount],
    min_reviewer_accuracy: float,
    votes_required: int = 1,
    mix: Mapping[str, int] | None = None,
    flagged: frozenset[str] | None = None,
    replicates: int = REPLICATES,
    item_votes: Mapping[int, Sequence[tuple[str, str]]] | None = None,
) -> Trust:
    """The trust figures of one queue. ``audits``: the audit answers of the period measured;
    ``checks``: every checked answer so far (error rates are a reviewer's, not a week's);
    ``mix``: the automatic decisions by predicted label, when known; ``flagged``: who is
    flagged, if already computed from the same ``checks``; ``item_votes``: audit items with
    several votes (``votes_required`` > 1), whose disagreements measure reviewers too."""
    checked = as_checks(checks)
    reviewers = reviewer_accuracy(checked, min_accuracy=min_reviewer_accuracy)
    flagged = flagged_reviewers(reviewers) if flagged is None else flagged
    votes = audit_votes(audits, votes_required)
    population = None
    if mix and sum(mix.values()) > 0 and all(label in labels for label in mix):
        population = {label: float(n) for label, n in mix.items()}
    known = [c for c in checked if c.audit_like and c.user not in flagged]
    extra = cross_checks(item_votes, known, labels) if item_votes else []
    return Trust(
        accuracy=corrected_accuracy(
            votes,
            checked + extra,
            labels,
            exclude=flagged,
            population=population,
            replicates=replicates,
        ),
        agreement=agreement(votes),
        reviewers=reviewers,
        flagged=flagged,
    )
