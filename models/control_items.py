"""Control items: which rows of the trusted labelled data to post, how many, under what id.

Pure functions; ``bot.review.control`` does the reading and writing.

**How many.** ``gold_rate`` is the share of messages that are control items: for every message of
a batch, one control item with probability ``gold_rate / (1 - gold_rate)`` (``control_count``).

**Which rows: alike the audit cards.** Reviewers err more on hard items than on easy ones, and the
error rates measured on control items correct the audit answers (``models.corrected_accuracy``),
so control items must be as easy as the audits are. A control card looks like an audit card (blind
when ``blind_audit``: item only, every label an equal choice), and each control row is chosen to
*mirror* a recent confident prediction, an automatic decision or an audit (the audits are a random
sample of those): among unused rows the current model is as sure of (at least ``review_below``),
the one with the same predicted label and the nearest confidence (``choose_rows``). The label mix
of control cards then follows what the model says of the audited traffic, not the training file's.

**Never twice to the same reviewer.** A row is posted at most once per queue (a unique key in
``control_items``): a channel card is seen by everyone in the channel, so a row shown once is
shown to everyone it could ever be shown to. Once every row is used, no more control items.

**Fair across reviewers.** In a channel nobody can be targeted: whoever answers first answers.
Because a control card cannot be told from an audit card, each reviewer answers control cards in
proportion to how much they answer at all, which is the fair share: the more someone's answers
train the model, the more precisely they are measured. Someone who answers little can fall
behind that share by chance; `/hitl next`, the one private card a reviewer asks for, then shows
them an open control card first (``behind_on_control``), still the channel's one card, so it is
never a second showing.

**Ids.** A control card shows the id its row had in the training file, a real past case; a row
without one gets an id shaped like the queue's recent ones (``lookalike_id``), never "gold-17".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_DIGITS = re.compile(r"\d+")


def control_count(messages: int, gold_rate: float, rng: np.random.Generator) -> int:
    """How many control items go with a batch of ``messages`` messages to people."""
    if not 0.0 <= gold_rate < 1.0:
        raise ValueError(f"gold_rate must be within [0, 1), got {gold_rate!r}")
    if messages <= 0 or gold_rate == 0.0:
        return 0
    return int(rng.binomial(messages, gold_rate / (1.0 - gold_rate)))


@dataclass(frozen=True)
class Candidate:
    """An unused row of the trusted data, as the current model sees it."""

    index: int  # the caller's index of the row
    predicted: str
    confidence: float


@dataclass(frozen=True)
class Mirror:
    """A recent confident prediction a control item should resemble."""

    predicted: str
    confidence: float


def choose_rows(
    candidates: Sequence[Candidate],
    mirrors: Sequence[Mirror],
    k: int,
    *,
    review_below: float,
    rng: np.random.Generator,
) -> list[int]:
    """Up to ``k`` distinct candidate indices, each mirroring a recent confident prediction.

    For each control item a mirror is drawn at random; among the unused candidates the model is
    at least ``review_below`` sure of, the one with the mirror's label and the nearest
    confidence is taken (ties at random); without one of that label, the nearest confidence of
    any label. Without mirrors or confident candidates, nothing: a control item unlike the
    audits would bias the correction it feeds.
    """
    pool = [c for c in candidates if c.confidence >= review_below]
    if k <= 0 or not pool or not mirrors:
        return []
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(k):
        left = [c for c in pool if c.index not in taken]
        if not left:
            break
        mirror = mirrors[int(rng.integers(len(mirrors)))]
        same = [c for c in left if c.predicted == mirror.predicted] or left
        gaps = np.asarray([abs(c.confidence - mirror.confidence) for c in same])
        nearest = np.flatnonzero(gaps <= gaps.min() + 1e-12)
        pick = same[int(nearest[int(rng.integers(len(nearest)))])]
        chosen.append(pick.index)
        taken.add(pick.index)
    return chosen


def lookalike_id(recent: Sequence[str], rng: np.random.Generator, taken: set[str]) -> str:
    """An id shaped like the queue's ``recent`` ones, not in ``taken``: a recent id with its
    last run of digits redrawn at the same width, below the lowest recent number when there is
    room (an older-looking case, like the real past cases control items are; producers' ids
    tend to grow, so it is less likely to meet a future one). With no recent id, a number."""
    candidate = ""
    for _ in range(20):
        if not recent:
            candidate = str(int(rng.integers(100_000, 1_000_000)))
        else:
            model = recent[int(rng.integers(len(recent)))]
            runs = list(_DIGITS.finditer(model))
            if not runs:
                candidate = f"{model}-{int(rng.integers(1000, 10000))}"
            else:
                last = runs[-1]
                width = len(last.group())
                low = 10 ** (width - 1) if width > 1 and last.group()[0] != "0" else 0
                high = 10**width
                oldest = min(
                    (int(m[-1].group()) for r in recent if (m := list(_DIGITS.finditer(r)))),
                    default=high,
                )
                if low < oldest <= high:
                    high = oldest
                number = str(int(rng.integers(low, high))).zfill(width)
                candidate = model[: last.start()] + number + model[last.end() :]
        if candidate not in taken:
            return candidate
    return f"{candidate}-{int(rng.integers(10, 100))}"


def behind_on_control(
    user: str,
    answers: Mapping[str, int],
    control_answers: Mapping[str, int],
    gold_rate: float,
) -> bool:
    """Has ``user`` answered fewer control items than their fair share, ``gold_rate`` of all
    their answers, by at least one? (`/hitl next` then shows them an open control card first.)"""
    if gold_rate <= 0.0:
        return False
    fair = gold_rate * answers.get(user, 0)
    return control_answers.get(user, 0) + 1 <= fair
