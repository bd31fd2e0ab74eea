"""The accuracy of automatic decisions, corrected for the reviewers' own errors.

Audit answers measure the model against people, and people err: with reviewers wrong 5% of the
time, the share of audits where they agree with the model sits about 5 points under the model's
true accuracy (the demo read 90.7% for a truth of 99.0%). Each reviewer's error rates are
measured on answers whose truth is known (control items, and audit items that got an outcome),
and the audit answers are corrected with them.

**The model.** Reviewer ``r`` answers label ``j`` for an item of true label ``k`` with probability
``C_r[k, j]`` (a confusion matrix, rows summing to 1; for a binary queue its diagonal holds the
specificity and sensitivity). Among the automatic decisions the model labelled ``s`` (a stratum:
the model errs differently on each label), let ``t`` be the distribution of true labels. An audit
answer ``z_i`` by reviewer ``r(i)`` then has ``P(z_i = j) = Σ_k t[k] C_r(i)[k, j]``, so the
weighted share of answers ``o = Σ w_i e(z_i) / Σ w_i`` (``w_i = 1 / p_i``, the inverse sampling
probability) has expectation ``C̄ᵀ t`` with ``C̄ = Σ w_i C_r(i) / Σ w_i``. Solving ``C̄ᵀ t = o`` on
the simplex gives ``t``, and the stratum's accuracy is ``t[s]``. For two labels this is the
Rogan–Gladen correction with one rate pair per answer,
``π̂ = Σ w_i([z_i = pos] − 1 + Sp_r(i)) / Σ w_i(Se_r(i) + Sp_r(i) − 1)``, clipped to [0, 1]; for
more labels the same equation is solved with each reviewer's confusion matrix, as in Dawid &
Skene's parameterisation (``models.dawid_skene`` estimates those matrices when items carry
several votes). The accuracy is the strata's accuracies weighted by their share of the
automatic decisions (known exactly from the stored predictions when the caller passes
``population``; else estimated from the audits' weights).

**Error rates, shrunk.** Counted from checked answers with a hierarchy of priors, so that 10
right answers out of 10 does not become "never wrong": the pooled accuracy of all reviewers gets
a Jeffreys prior; each class's pooled rate is shrunk toward it (a class with few checked answers,
often the rare positive one, borrows from the others), and each reviewer's rate on a class toward
that class's pooled rate, worth ``PRIOR_STRENGTH`` answers: a light touch, because the pooled
rate holds the reviewer's own answers too, and a heavy prior counts them twice (with 10
pseudo-answers the interval came out about 10% too narrow in simulation). A reviewer with no
checked answer gets the pooled rates.

**Who is left out.** A flagged reviewer (``models.reviewer_quality``), and one whose answers carry
almost no information about the truth (``Se + Sp − 1`` under ``MIN_INFORMATIVE``: dividing by it
would explode the correction). Audits are assigned to whoever answers them, not by the item, so
dropping a reviewer's audits keeps the rest a random sample.

**The interval** carries both sources of noise, the audits drawn and the error rates measured:
each of ``replicates`` re-draws re-weights the audit answers (the Bayesian bootstrap, Rubin 1981:
each answer weighs an Exp(1) draw) and re-draws each reviewer's checked answers, class by class,
from their estimated rates (a parametric bootstrap), re-estimates the rates and the accuracy;
the 2.5th and 97.5th percentiles are the interval. Two choices keep it honest at the edges,
where accuracies of automatic decisions live. The checked answers are re-drawn from the shrunk
rates rather than resampled, because a resample of 10 right answers out of 10 is always 10 out
of 10 and would claim the rate is known exactly. And each stratum's re-drawn audits get half a
pseudo-answer of each label, drawn like the real ones (Jeffreys' prior for a proportion):
without it a stratum whose audits all agree re-draws to 100% every time and the interval
collapses to a point ("100.0–100.0%") however few audits it rests on. The point estimate uses
the real answers only. Coverage is checked by simulation in
``tests/models/test_corrected_accuracy.py`` (about 93–96% at nominal 95%) and, on real data and
simulated reviewers, in ``benchmarks/trust.py``.

Where the error rates rest on fewer than ``MIN_CONTROL`` checked answers the correction would be
guesswork: the figure is then the raw agreement, said to be uncorrected, and why.

The trap: reviewers err more on hard items than on easy ones. Only checked answers given the way
audits are answered (blind cards of confident predictions: control items and audited items with
an outcome, ``Check.audit_like``) feed the correction; control items are drawn to resemble the
audit cards (``models.control_items``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls

from models.estimates import Estimate, weighted_proportion
from models.reviewer_quality import Check

PRIOR_STRENGTH = 2.0
MIN_CONTROL = 20
MIN_INFORMATIVE = 0.2
REPLICATES = 1000
_JEFFREYS = 0.5


@dataclass(frozen=True)
class AuditVote:
    """``count`` answers ``answer`` by ``user`` on audit items the model labelled ``predicted``.

    ``share`` is 1 / the number of votes on the item (an item with three votes counts once).
    """

    user: str
    predicted: str
    answer: str
    sampling_probability: float
    count: int = 1
    share: float = 1.0


@dataclass(frozen=True)
class CorrectedAccuracy:
    """The estimate and what it rests on."""

    estimate: Estimate
    #: False: too few checked answers, ``estimate`` is the raw agreement with reviewers.
    corrected: bool
    #: Checked answers (control items, audits with an outcome) the error rates rest on.
    control_answers: int
    #: Audit answers left out: their reviewer is flagged or no better than a coin.
    excluded_answers: int
    excluded_reviewers: tuple[str, ...]
    #: What the figure rests on, in words: "corrected for reviewer error measured on 48 ...".
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "corrected": self.corrected,
            "control_answers": self.control_answers,
            "excluded_answers": self.excluded_answers,
            "excluded_reviewers": list(self.excluded_reviewers),
            "note": self.note,
        }


def corrected_accuracy(
    audits: Sequence[AuditVote],
    checks: Sequence[Check],
    labels: Sequence[str],
    *,
    exclude: Collection[str] = (),
    population: Mapping[str, float] | None = None,
    replicates: int = REPLICATES,
    random_state: int = 0,
) -> CorrectedAccuracy:
    """The accuracy of automatic decisions from ``audits``, corrected with the reviewers' error
    rates measured on ``checks`` (only ``audit_like`` ones are used); see the module docstring.

    ``exclude``: reviewers left out (the flagged ones). ``population``: each predicted label's
    share (or count) of the automatic decisions, when known.
    """
    labels = [str(label) for label in labels]
    if len(labels) < 2:
        raise ValueError(f"need at least 2 labels, got {labels}")
    index = {label: k for k, label in enumerate(labels)}
    for a in audits:
        if a.predicted not in index or a.answer not in index:
            raise ValueError(f"audit labels must be among {labels}: {a}")
        if not 0.0 < a.sampling_probability <= 1.0 or a.count < 0 or not a.share > 0:
            raise ValueError(f"bad audit vote {a}")
    usable_checks = [c for c in checks if c.audit_like and c.user not in exclude]
    for c in usable_checks:
        if c.truth not in index or c.answer not in index or c.count < 0:
            raise ValueError(f"check labels must be among {labels}: {c}")
    users = sorted({a.user for a in audits} | {c.user for c in usable_checks})
    # One slot more than there are reviewers: a reviewer with no checked answer, whose rates
    # are the pooled ones (the pseudo-answers of the interval use them).
    counts = np.zeros((len(users) + 1, len(labels), len(labels)))
    slot = {user: r for r, user in enumerate(users)}
    for c in usable_checks:
        counts[slot[c.user], index[c.truth], index[c.answer]] += c.count
    n_checked = int(round(counts.sum()))
    n_cross = int(round(sum(c.count for c in usable_checks if c.source == "cross_checked")))

    matrices = reviewer_matrices(counts)
    uninformative = {u for u in users if informativeness(matrices[slot[u]]) < MIN_INFORMATIVE}
    dropped = set(exclude) | (uninformative if n_checked >= MIN_CONTROL else set())
    kept = [a for a in audits if a.user not in dropped and a.count > 0]
    excluded_answers = sum(a.count for a in audits if a.user in dropped)
    excluded = tuple(sorted({a.user for a in audits if a.user in dropped}))
    if not kept:
        return CorrectedAccuracy(
            Estimate.unmeasured(), n_checked >= MIN_CONTROL, n_checked, excluded_answers,
            excluded, "no audit answers" if not audits else "every audit answer was left out",
        )  # fmt: skip
    if n_checked < MIN_CONTROL:
        raw = weighted_proportion(
            [h for a in kept for h in [a.predicted == a.answer] * a.count],
            [w for a in kept for w in [a.share / a.sampling_probability] * a.count],
        )
        n_control = n_checked - n_cross
        cross = f" and {n_cross} cross-checked audit answers" if n_cross else ""
        note = (
            f"not corrected for reviewer error: {n_control} control answer"
            f"{'' if n_control == 1 else 's'}{cross} so far, {MIN_CONTROL} needed"
        )
        return CorrectedAccuracy(raw, False, n_checked, excluded_answers, excluded, note)

    cells = _Cells(kept, [slot[a.user] for a in kept], index)
    shares = _population_shares(population, labels, cells)
    value = _accuracy(cells, matrices[None], shares)
    rng = np.random.default_rng(random_state)
    draws = _accuracy(
        cells.redrawn(rng, replicates),
        reviewer_matrices(counts, rng=rng, replicates=replicates),
        shares,
        rng=rng,
    )
    point = float(value[0])
    low, high = (float(q) for q in np.percentile(draws, [2.5, 97.5]))
    n = sum(a.count for a in kept)
    estimate = Estimate(value=point, low=min(low, point), high=max(high, point), n=n)
    note = f"corrected for reviewer error measured on {n_checked - n_cross:,} control answers"
    if n_cross:
        note += f" and {n_cross:,} audit answers cross-checked by several reviewers"
    if excluded_answers:
        note += f"; {excluded_answers:,} audit answers of flagged reviewers left out"
    return CorrectedAccuracy(estimate, True, n_checked, excluded_answers, excluded, note)


def informativeness(matrix: np.ndarray) -> float:
    """``min over k ≠ j of C[k, k] − C[j, k]``: how much more often the reviewer answers a label
    when it is true than when another one is. ``Se + Sp − 1`` for two labels; 0 for a coin."""
    k = matrix.shape[0]
    return float(min(matrix[a, a] - matrix[b, a] for a in range(k) for b in range(k) if a != b))


def reviewer_matrices(
    counts: np.ndarray, *, rng: np.random.Generator | None = None, replicates: int = 0
) -> np.ndarray:
    """Each reviewer's confusion matrix from checked answers ``counts[r, truth, answer]``.

    Without ``rng``: the shrunk estimates, shape ``(R, K, K)``. With ``rng``: ``replicates``
    re-draws, shape ``(B, R, K, K)``, by a parametric bootstrap: each reviewer's checked answers
    of each class are drawn again from their estimated (shrunk) rates, and the rates estimated
    again from the draw. A plain resample of 10 right answers out of 10 is always 10 out of 10;
    drawn from a shrunk 99%, it is sometimes 9. (Drawing from the posterior instead made the
    interval about 8% too narrow in simulation: the pooled rates a reviewer is shrunk toward hold
    that reviewer's own answers too, so the posterior counts them twice.)
    """
    point = _shrunk(counts[None])[0]
    if rng is None:
        return point
    r_count, k_count, _ = counts.shape
    n = np.rint(counts.sum(axis=2)).astype(int)  # (R, K); cross-checked answers are fractional
    drawn = np.zeros((replicates, r_count, k_count, k_count))
    for r in range(r_count):
        for k in range(k_count):
            if n[r, k]:
                drawn[:, r, k] = rng.multinomial(n[r, k], point[r, k], size=replicates)
    # The bootstrap redraws whole answers: fractional counts are rounded, their total kept.
    return _shrunk(drawn)


def _shrunk(counts: np.ndarray) -> np.ndarray:
    """The shrunk confusion matrices of checked answers ``counts[b, r, truth, answer]``."""
    b, r_count, k_count, _ = counts.shape
    eye = np.eye(k_count, dtype=bool)
    m = PRIOR_STRENGTH
    pooled = counts.sum(axis=1)  # (B, K, K)
    hits = np.trace(pooled, axis1=1, axis2=2)
    accuracy = (hits + _JEFFREYS) / (pooled.sum(axis=(1, 2)) + 2 * _JEFFREYS)  # (B,)
    # Each class's pooled rate, shrunk toward the pooled accuracy (B, K).
    class_hits = np.diagonal(pooled, axis1=1, axis2=2)
    class_rate = (class_hits + m * accuracy[:, None]) / (pooled.sum(axis=2) + m)
    # Each reviewer's rate on each class, shrunk toward that class's pooled rate (B, R, K).
    rk_hits = np.diagonal(counts, axis1=2, axis2=3)
    diagonal = (rk_hits + m * class_rate[:, None, :]) / (counts.sum(axis=3) + m)
    # Where the wrong answers go: the pooled split of each class's errors, and each reviewer's.
    off = np.where(eye, 0.0, pooled)
    spread = np.where(
        eye, 0.0, (off + 0.5) / (off.sum(axis=2, keepdims=True) + 0.5 * (k_count - 1))
    )
    alpha = np.where(eye, 0.0, counts) + m * spread[:, None]  # zero on the diagonal
    split = alpha / alpha.sum(axis=3, keepdims=True)
    matrices = split * (1 - diagonal)[..., None]
    matrices[..., eye] = diagonal
    return matrices


class _Cells:
    """Audit answers grouped by (reviewer, predicted, answer, weight), and their re-draws."""

    def __init__(self, audits: Sequence[AuditVote], slots: Sequence[int], index: Mapping[str, int]):
        self.k = len(index)
        self.reviewer = np.asarray(slots)
        self.stratum = np.asarray([index[a.predicted] for a in audits])
        self.answer = np.asarray([index[a.answer] for a in audits])
        self.unit = np.asarray([a.share / a.sampling_probability for a in audits])
        self.counts = np.asarray([[a.count for a in audits]], dtype=float)  # (1, cells)

    def redrawn(self, rng: np.random.Generator, replicates: int) -> _Cells:
        """The Bayesian bootstrap: each answer weighs an Exp(1) draw, so a cell of ``count``
        answers weighs a Gamma(count) draw (Rubin 1981; a smooth version of resampling)."""
        copy = object.__new__(_Cells)
        copy.__dict__.update(self.__dict__)
        copy.counts = rng.gamma(np.broadcast_to(self.counts[0], (replicates, self.counts.shape[1])))
        return copy


def _population_shares(
    population: Mapping[str, float] | None, labels: Sequence[str], cells: _Cells
) -> np.ndarray | None:
    """Each stratum's share of the automatic decisions, if known (else None: from the audits)."""
    if population is None:
        return None
    shares = np.asarray([float(population.get(label, 0.0)) for label in labels])
    if (shares < 0).any() or shares.sum() <= 0:
        raise ValueError(f"population shares must be non-negative and not all 0: {population}")
    return shares / shares.sum()


def _accuracy(
    cells: _Cells,
    matrices: np.ndarray,
    shares: np.ndarray | None,
    *,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """The corrected accuracy for each replicate (``cells.counts`` rows, ``matrices`` batches,
    whose last reviewer slot holds the pooled rates). With ``rng`` (re-draws), each stratum also
    gets half a pseudo-answer of each label, drawn like the real ones (see the docstring)."""
    b = cells.counts.shape[0]
    k = cells.k
    pooled = matrices[:, -1]  # (B, K, K)
    weight = cells.counts * cells.unit  # (B, cells)
    per_cell = matrices[:, cells.reviewer]  # (B, cells, K, K)
    answered = np.eye(k)[cells.answer]  # (cells, K)
    accuracy = np.zeros(b)
    mass = np.zeros(b)
    for s in range(k):
        mine = cells.stratum == s
        if not mine.any():
            continue
        w = weight[:, mine]  # (B, m)
        total = w.sum(axis=1)
        observed = w @ answered[mine]  # (B, K)
        mixed = np.einsum("bc,bcij->bij", w, per_cell[:, mine])  # (B, K, K)
        if rng is not None:
            phantom = cells.unit[mine].mean() * rng.gamma(_JEFFREYS, size=(b, k))
            observed = observed + phantom
            mixed = mixed + phantom.sum(axis=1)[:, None, None] * pooled
            total = total + phantom.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            observed = observed / total[:, None]
            mixed = mixed / total[:, None, None]
        truth = _solve_on_simplex(mixed, observed)
        share = w.sum(axis=1) if shares is None else np.full(b, shares[s])
        ok = total > 0
        accuracy[ok] += share[ok] * truth[ok, s]
        mass[ok] += share[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(np.where(mass > 0, accuracy / mass, np.nan), 0.0, 1.0)


def _solve_on_simplex(mixed: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """``t`` on the simplex with ``mixedᵀ t ≈ observed``, for each batch row.

    Rows of ``mixed`` sum to 1, so the exact solution already sums to 1; only a negative share
    (noise pushing past the edge) needs the constrained solution, by non-negative least squares
    with the sum held by a heavy extra equation (two labels: that is a clip)."""
    b, k, _ = mixed.shape
    out = np.full((b, k), np.nan)
    finite = np.isfinite(mixed).all(axis=(1, 2)) & np.isfinite(observed).all(axis=1)
    solvable = finite & (np.abs(np.linalg.det(np.where(finite[:, None, None], mixed, 1.0))) > 1e-9)
    if solvable.any():
        out[solvable] = np.linalg.solve(
            np.swapaxes(mixed[solvable], 1, 2), observed[solvable][..., None]
        )[..., 0]
    for i in np.flatnonzero(finite & (~solvable | (out < -1e-12).any(axis=1))):
        if k == 2 and solvable[i]:
            first = float(np.clip(out[i, 0], 0.0, 1.0))
            out[i] = (first, 1.0 - first)
            continue
        a = np.vstack([mixed[i].T, 1e3 * np.ones(k)])
        y = np.concatenate([observed[i], [1e3]])
        solution, _ = nnls(a, y)
        out[i] = solution / solution.sum() if solution.sum() > 0 else np.full(k, 1.0 / k)
    return np.clip(out, 0.0, 1.0)
