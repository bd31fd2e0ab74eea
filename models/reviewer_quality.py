"""How often each reviewer is right, from the answers whose truth is known, and who is flagged.

Two kinds of answers have a known truth: control items (rows of the queue's trusted labelled
data posted as ordinary cards) and items that later got an outcome (a chargeback, a complaint).
Each reviewer's accuracy on them gets a 95% Wilson interval; a reviewer is *flagged* when the
upper end of that interval lies under the queue's ``min_reviewer_accuracy``: even the kindest
reading of the evidence says they are below the bar. Their answers then stop training the model
and stop feeding the gate's recent slice, while flagged (the flag is recomputed from the data at
every use, so it lifts by itself once their answers are good again).

With few checked answers the interval is wide and nobody is flagged. Wilson's upper end is not
wide enough for the very smallest counts (0 right of 1 already gives an upper end of 79%), so a
flag also needs at least ``MIN_CHECKED`` checked answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.dawid_skene import dawid_skene, soft_counts
from models.estimates import Estimate, wilson_interval
from storage.trust_data import CheckedCount

MIN_CHECKED = 10
SOURCES = ("control", "outcome")
#: Answers on audit items with several votes, their truth inferred by Dawid & Skene's EM: they
#: help correct the accuracy figure, never flag anyone (a flag rests on known truth only).
CROSS_CHECKED = "cross_checked"


@dataclass(frozen=True)
class Check:
    """``count`` answers of ``user`` whose truth is known: ``answer`` given, ``truth`` known.

    ``source`` is ``control`` (a control item) or ``outcome`` (late ground truth). ``audit_like``:
    the card was an audit or control card, shown blind to a confident prediction, the way audits
    are answered (the corrected accuracy uses only those, see ``models.corrected_accuracy``).
    """

    user: str
    truth: str
    answer: str
    #: Whole answers; a fraction only for answers whose truth is inferred (``cross_checks``).
    count: float = 1
    source: str = "control"
    audit_like: bool = True


@dataclass(frozen=True)
class ReviewerAccuracy:
    estimate: Estimate
    control: int  # checked answers from control items
    outcomes: int  # checked answers from outcomes
    flagged: bool

    def as_dict(self) -> dict[str, Any]:
        e = self.estimate
        return {
            "value": e.value,
            "low": e.low,
            "high": e.high,
            "n": e.n,
            "flagged": self.flagged,
            "control": self.control,
            "outcomes": self.outcomes,
        }


def reviewer_accuracy(
    checks: Iterable[Check], *, min_accuracy: float
) -> dict[str, ReviewerAccuracy]:
    """Each reviewer's accuracy on checked answers, with a 95% Wilson interval and the flag."""
    if not 0.0 <= min_accuracy <= 1.0:
        raise ValueError(f"min_accuracy must be within [0, 1], got {min_accuracy!r}")
    right: dict[str, int] = defaultdict(int)
    by_source: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SOURCES, 0))
    for check in checks:
        if check.source == CROSS_CHECKED:
            continue
        if check.count < 0:
            raise ValueError(f"a count must not be negative, got {check.count}")
        if check.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {check.source!r}")
        by_source[check.user][check.source] += int(check.count)
        right[check.user] += int(check.count) if check.answer == check.truth else 0
    result = {}
    for user in sorted(by_source):
        n = sum(by_source[user].values())
        if n == 0:
            continue
        p = right[user] / n
        low, high = wilson_interval(p, n)
        result[user] = ReviewerAccuracy(
            estimate=Estimate(value=p, low=min(low, p), high=max(high, p), n=n),
            control=by_source[user]["control"],
            outcomes=by_source[user]["outcome"],
            flagged=n >= MIN_CHECKED and high < min_accuracy,
        )
    return result


def flagged_reviewers(accuracy: dict[str, ReviewerAccuracy]) -> frozenset[str]:
    return frozenset(user for user, a in accuracy.items() if a.flagged)


def cross_checks(
    item_votes: Mapping[int, Sequence[tuple[str, str]]],
    known: Sequence[Check],
    labels: Sequence[str],
) -> list[Check]:
    """What audit items answered by several reviewers say of each reviewer's errors: Dawid &
    Skene's EM over those items and the ``known`` checked answers (clamped to their truth),
    then each reviewer's answers on the audit items split by the items' inferred classes."""
    if not item_votes:
        return []
    index = {label: k for k, label in enumerate(labels)}
    users = sorted({u for votes in item_votes.values() for u, _ in votes} | {c.user for c in known})
    slot = {user: j for j, user in enumerate(users)}
    audits = [v for v in item_votes.values() if all(a in index for _, a in v)]
    clamped = [c for c in known if c.truth in index and c.answer in index and c.count >= 1]
    n_known = int(sum(c.count for c in clamped))
    counts = np.zeros((len(audits) + n_known, len(users), len(labels)))
    truth = np.full(len(counts), -1)
    for i, votes in enumerate(audits):
        for user, answer in votes:
            counts[i, slot[user], index[answer]] += 1
    row = len(audits)
    for c in clamped:
        for _ in range(int(c.count)):
            counts[row, slot[c.user], index[c.answer]] = 1
            truth[row] = index[c.truth]
            row += 1
    result = dawid_skene(counts, known=truth, smoothing=0.5)
    soft = soft_counts(result, counts[: len(audits)])
    return [
        Check(users[j], labels[k], labels[answer], float(soft[j, k, answer]), CROSS_CHECKED)
        for j in range(len(users))
        for k in range(len(labels))
        for answer in range(len(labels))
        if soft[j, k, answer] > 1e-9
    ]


def as_checks(rows: Iterable[CheckedCount]) -> list[Check]:
    """Stored counts as ``Check`` s; control cards and audit cards are answered alike."""
    return [
        Check(r.user, r.truth, r.answer, r.count, r.source, audit_like=r.route in ("gold", "audit"))
        for r in rows
    ]
