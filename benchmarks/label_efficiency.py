"""Label efficiency of the review loop, on real data, through the project's own code.

    python benchmarks/label_efficiency.py [--seeds 20] [--error-rate 0.05] [--quick] [--out PNG]

For each data set a fixed test split is put aside and the rest is the *pool*. Per seed, a small
seed set (200 rows, stratified) trains the first model (``models.evaluation.fit``); a fifth of it
is the gate's trusted holdout (``split_holdout``). The rest of the pool streams in batches. Each
batch is scored (``models.pipelines.score``) and routed (``models.routing.decide_route``: review
under ``review_below``, a uniform ``audit_rate`` sample of the confident items, else automatic).
Simulated reviewers answer from the truth, wrong with probability ``--error-rate``. Then a
candidate is trained on the seed set plus every answer but the most recent fifth
(``models.selection``), and the gate (``models.gate``) compares it with the current model on the
trusted holdout and on those recent answers (audits weighted 1/p); the current model's score on
the test split is the learning curve.

Strategies, at equal numbers of human answers (a review budget per batch, plus the audits):

- ``uncertainty``: the budget goes to the least confident items first (``budgeted_order``);
  when fewer items are under ``review_below`` than the budget, the next least confident ones,
  as if the queue's threshold were raised to use its budget;
- ``random``: the same budget spent on items drawn at random (audits aside);
- ``none``: no human feedback, the seed model throughout (audits still measure it).

The accuracy of the automatic decisions (items routed ``auto``) is estimated from the audit
answers (``models.estimates.automatic_accuracy``) and compared with their true accuracy: mean
absolute error and how often the 95% interval holds it, over the seeds. Audit answers come from
the same fallible reviewers, so the estimate is also given for truthful audits, to separate the
estimator's error from the reviewers'.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per worker process

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from models.control_items import Candidate, Mirror, choose_rows, control_count
from models.datasets import Dataset, airline_sentiment, credit_card_fraud
from models.estimates import AuditAnswer, automatic_accuracy
from models.evaluation import evaluate, fit, split_holdout
from models.gate import Slice, best_scores, decide, gate_metrics, measure_slice, primary_metric
from models.pipelines import score
from models.reviewer_quality import Check, flagged_reviewers, reviewer_accuracy
from models.routing import decide_route
from models.selection import (
    HumanLabel,
    assemble_training_set,
    budgeted_order,
    evaluation_weights,
    split_recent,
)

STRATEGIES = ("uncertainty", "random", "none")
BAD = 2  # the always-wrong reviewer, with ``Setup.bad_reviewer``
#: Review answers per batch: enough for the curves to approach the full-data score.
BUDGET = {"credit_card_fraud": 50, "airline_sentiment": 200}
LEGEND = """\
answers     human answers collected per run (review budget + audits; the latest fifth is held
            out for the gate at each retrain), mean over seeds
to 95/99%   median answers until the current model reaches 95% / 99% of the full-data score
            (in brackets: seeds that reach it; "never" when the median seed does not)
final       mean test score of the current model after the last batch
promoted    promotions / retrains per run, mean
auto acc    true accuracy of the automatic decisions (items routed "auto"), mean
est MAE     |audit-based estimate - auto acc|, mean over seeds; 95% cover: seeds whose 95%
            interval holds auto acc. Audits answered by the same fallible reviewers
exact       the same, had the audits been answered truthfully (the estimator's own error)"""
DEFAULT_PNG = Path(__file__).resolve().parent / "out" / "label_efficiency.png"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Setup:
    """The simulated queue: how data arrive and how people are asked."""

    seed_size: int = 200
    n_batches: int = 10
    review_below: float = 0.8
    audit_rate: float = 0.02
    recent_fraction: float = 0.2
    tolerance: float = 0.01
    gate_z: float = 1.0
    error_rate: float = 0.05
    test_fraction: float = 0.25
    #: Control items per message, for ``benchmarks/trust.py`` (uncertainty strategy only).
    gold_rate: float = 0.0
    #: One reviewer in three always wrong: answers go to three reviewers at random, control
    #: items measure them, and a flagged one's answers stop training (``benchmarks/trust.py``).
    bad_reviewer: bool = False


@dataclass
class Run:
    """One seed of one strategy on one data set."""

    answers: list[int] = field(default_factory=list)  # cumulative human answers collected
    scores: list[float] = field(default_factory=list)  # current model on the test split
    promoted: int = 0
    rejected: int = 0
    auto_true: float | None = None
    estimate: tuple[float | None, float | None, float | None] = (None, None, None)
    estimate_exact: tuple[float | None, float | None, float | None] = (None, None, None)
    seconds: float = 0.0
    #: For ``benchmarks/trust.py``: the confident decisions (predicted, true label), the audits
    #: (predicted, true label, sampling probability), the true labels of control items, and
    #: each retrain's candidate and current model on the test split (gate metrics).
    auto: list[tuple[str, str]] = field(default_factory=list)
    audits: list[tuple[str, str, float]] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    candidates: list[tuple[bool, dict[str, float], dict[str, float]]] = field(default_factory=list)


#: Filled in the parent before the workers fork, so the data are not pickled per task.
DATA: dict[str, tuple[Dataset, np.ndarray, np.ndarray]] = {}


def _reviewer(truth: str, labels: Sequence[str], rng: np.random.Generator, error: float) -> str:
    if rng.random() >= error:
        return truth
    others = [label for label in labels if label != truth]
    return others[int(rng.integers(len(others)))]


def _test_score(pipeline: Pipeline, data: Dataset, test: np.ndarray, metric: str) -> float:
    return _test_metrics(pipeline, data, test)[metric]


def _test_metrics(pipeline: Pipeline, data: Dataset, test: np.ndarray) -> dict[str, float]:
    """The gate's metrics of ``pipeline`` on the test split (the truth of "better")."""
    metrics = evaluate(
        pipeline,
        data.kind,
        [data.payloads[i] for i in test],
        [data.y[i] for i in test],
        labels=data.labels,
    )
    return {m: metrics.primary(m) for m in gate_metrics(data.labels)}


def gate(
    candidate: Pipeline,
    history: list[Pipeline],
    scores: list[dict[str, float | None]],
    current: int,
    data: Dataset,
    hold: tuple[list[Any], list[str]],
    recent: Sequence[HumanLabel],
    setup: Setup,
) -> bool:
    """The project's gate on ``candidate``: every gate metric on the trusted hold-out and the
    recent answers against the current model, and the ratchet's floors (the best of the models
    once in use, ``history``, by their hold-out ``scores``)."""
    labels = list(data.labels)
    metrics = gate_metrics(labels)
    common: dict[str, Any] = {
        "candidate": candidate,
        "kind": data.kind,
        "labels": labels,
        "metrics": metrics,
    }
    slices: list[Slice] = [
        *measure_slice(
            "trusted_holdout", current=history[current], payloads=hold[0], y=hold[1], **common
        ),
        *measure_slice(
            "recent_labels",
            current=history[current],
            payloads=[a.payload for a in recent],
            y=[a.label for a in recent],
            sample_weight=evaluation_weights(recent),
            **common,
        ),
    ]
    floors: dict[int, list[str]] = {}
    for metric, index in best_scores(scores, metrics).items():
        if index != current:
            floors.setdefault(index, []).append(metric)
    for index, floor_metrics in floors.items():
        slices += measure_slice(
            "trusted_holdout",
            current=history[index],
            payloads=hold[0],
            y=hold[1],
            against=f"v{index + 1}",
            **{**common, "metrics": floor_metrics},
        )
    return decide(slices, tolerance=setup.tolerance, z=setup.gate_z).promote


def holdout_scores(pipeline: Pipeline, data: Dataset, hold: tuple[list[Any], list[str]]) -> dict:
    metrics = evaluate(pipeline, data.kind, hold[0], hold[1], labels=data.labels)
    return {m: getattr(metrics, m) for m in gate_metrics(data.labels)}


def _seed_set(data: Dataset, pool: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` pool rows with the pool's class shares (at least 2 of each class)."""
    y = np.asarray(data.y)[pool]
    chosen = []
    for label in data.labels:
        rows = pool[y == label]
        k = max(2, round(size * len(rows) / len(pool)))
        chosen.append(rng.choice(rows, size=k, replace=False))
    extra = np.concatenate(chosen)
    return rng.permutation(extra)[:size] if len(extra) > size else rng.permutation(extra)


def simulate(name: str, strategy: str, seed: int, setup: Setup) -> Run:
    """Run the loop once; every model decision goes through the project's own functions."""
    started = time.perf_counter()
    data, pool, test = DATA[name]
    labels = list(data.labels)
    metric = primary_metric(labels)
    rng = np.random.default_rng(seed)
    route_rng = np.random.default_rng([seed, 1])  # routing draws the same way for every strategy

    seed_rows = _seed_set(data, pool, setup.seed_size, rng)
    train_idx, hold_idx = split_holdout(
        len(seed_rows), fraction=0.2, random_state=seed, stratify=[data.y[i] for i in seed_rows]
    )
    initial = [(data.payloads[seed_rows[i]], data.y[seed_rows[i]]) for i in train_idx]
    hold_x = [data.payloads[seed_rows[i]] for i in hold_idx]
    hold_y = [data.y[seed_rows[i]] for i in hold_idx]
    current = fit(data.kind, [p for p, _ in initial], [y for _, y in initial], random_state=seed)
    history, scores = [current], [holdout_scores(current, data, (hold_x, hold_y))]
    control_rng = np.random.default_rng([seed, 2])
    unused_controls = control_rng.permutation(test).tolist()  # see benchmarks/trust.py
    who: dict[str, int] = {}  # with a bad reviewer: who answered each item
    checks: list[Check] = []  # their control answers

    stream = rng.permutation(np.setdiff1d(pool, seed_rows))
    run = Run(answers=[0], scores=[_test_score(current, data, test, metric)])
    answers: list[HumanLabel] = []
    audits: list[AuditAnswer] = []
    audits_exact: list[AuditAnswer] = []
    auto_hits: list[bool] = []
    for b, batch in enumerate(np.array_split(stream, setup.n_batches)):
        payloads = [data.payloads[i] for i in batch]
        scored = score(current, data.kind, payloads)
        confidences = [s.confidence for s in scored]
        routes = [
            decide_route(
                c, review_below=setup.review_below, audit_rate=setup.audit_rate, rng=route_rng
            )
            for c in confidences
        ]
        open_items = [j for j, r in enumerate(routes) if r.route != "audit"]
        if strategy == "uncertainty":
            order = budgeted_order([confidences[j] for j in open_items])
            picked = {open_items[k]: 1.0 for k in order[: BUDGET[name]]}
        elif strategy == "random":
            k = min(BUDGET[name], len(open_items))
            p = k / len(open_items) if open_items else 1.0
            picked = {int(j): p for j in rng.choice(open_items, size=k, replace=False)}
        else:
            picked = {}
        at = T0 + timedelta(days=b)
        for j, (row, s, r) in enumerate(zip(batch.tolist(), scored, routes, strict=True)):
            truth = data.y[row]
            if r.route == "auto":
                auto_hits.append(s.label == truth)
                run.auto.append((s.label, truth))
                if j not in picked:
                    continue
            if r.route == "audit":
                said = _reviewer(truth, labels, rng, setup.error_rate)
                audits.append(AuditAnswer(s.label, said, r.audit_probability))
                audits_exact.append(AuditAnswer(s.label, truth, r.audit_probability))
                run.audits.append((s.label, truth, r.audit_probability))
                run.auto.append((s.label, truth))  # audits are automatic decisions drawn
                p = r.audit_probability
            elif j in picked:
                said, p = _reviewer(truth, labels, rng, setup.error_rate), picked[j]
            else:
                continue  # left waiting: the review budget is spent
            if setup.bad_reviewer:
                who[data.ids[row]] = int(control_rng.integers(3))
                if who[data.ids[row]] == BAD:
                    said = next(label for label in labels if label != truth)
            if strategy != "none":
                answers.append(
                    HumanLabel(
                        data.payloads[row], said, p, at + timedelta(seconds=j), data.ids[row]
                    )
                )
        if setup.gold_rate and strategy == "uncertainty":
            messages = len(picked) + sum(r.route == "audit" for r in routes)
            k = control_count(messages, setup.gold_rate, control_rng)
            truths = _control_truths(
                data, current, unused_controls, scored, routes, k, setup, control_rng
            )
            run.controls += truths
            if setup.bad_reviewer:
                for truth in truths:
                    user = int(control_rng.integers(3))
                    said = truth if user != BAD else next(x for x in labels if x != truth)
                    checks.append(Check(str(user), truth, said))
        if strategy == "none":
            run.answers.append(0)
            run.scores.append(run.scores[-1])
            continue
        trusted = answers
        if setup.bad_reviewer:  # a flagged reviewer's answers neither train nor judge
            flagged = flagged_reviewers(reviewer_accuracy(checks, min_accuracy=0.8))
            trusted = [a for a in answers if str(who[a.item_id]) not in flagged]
        older, recent = split_recent(trusted, setup.recent_fraction)
        payloads_t, y_t, weights = assemble_training_set(initial, older, {})
        candidate = fit(data.kind, payloads_t, y_t, random_state=seed, sample_weight=weights)
        promote = gate(
            candidate, history, scores, len(history) - 1, data, (hold_x, hold_y), recent, setup
        )
        if setup.gold_rate and strategy == "uncertainty":
            run.candidates.append(
                (promote, _test_metrics(candidate, data, test), _test_metrics(current, data, test))
            )
        if promote:
            current = candidate
            history.append(current)
            scores.append(holdout_scores(current, data, (hold_x, hold_y)))
            run.promoted += 1
            run.scores.append(_test_score(current, data, test, metric))
        else:
            run.rejected += 1
            run.scores.append(run.scores[-1])
        run.answers.append(len(answers))
    run.auto_true = float(np.mean(auto_hits)) if auto_hits else None
    for attr, sample in (("estimate", audits), ("estimate_exact", audits_exact)):
        e = automatic_accuracy(sample)
        setattr(run, attr, (e.value, e.low, e.high))
    run.seconds = time.perf_counter() - started
    return run


def _control_truths(
    data: Dataset,
    current: Pipeline,
    unused: list[int],
    scored: Sequence[Any],
    routes: Sequence[Any],
    k: int,
    setup: Setup,
    rng: np.random.Generator,
) -> list[str]:
    """The true labels of ``k`` control items chosen the project's way
    (``models.control_items.choose_rows``): rows the model is as sure of as this batch's
    confident predictions, each used once. Labelled rows of the test split stand for the
    queue's trusted file (answering them trains nothing)."""
    if k == 0 or not unused:
        return []
    sample = unused[:200]
    proba = score(current, data.kind, [data.payloads[i] for i in sample])
    candidates = [Candidate(i, s.label, s.confidence) for i, s in enumerate(proba)]
    mirrors = [
        Mirror(s.label, s.confidence)
        for s, r in zip(scored, routes, strict=True)
        if r.route != "review"
    ]
    picks = choose_rows(candidates, mirrors, k, review_below=setup.review_below, rng=rng)
    rows = [sample[i] for i in picks]
    for row in rows:
        unused.remove(row)
    return [data.y[row] for row in rows]


def _labels_to_reach(run: Run, target: float) -> float:
    for n, s in zip(run.answers, run.scores, strict=True):
        if s >= target:
            return n
    return float("inf")


def _reach_text(runs: list[Run], target: float) -> str:
    needed = sorted(_labels_to_reach(r, target) for r in runs)
    median = statistics.median_low(needed)
    reached = sum(n != float("inf") for n in needed)
    if median == float("inf"):
        return f"never ({reached}/{len(runs)})"
    return f"{median:.0f} ({reached}/{len(runs)})"


def _estimate_text(runs: list[Run], attr: str) -> tuple[str, str]:
    errors, covered = [], []
    for r in runs:
        value, low, high = getattr(r, attr)
        if value is None or r.auto_true is None:
            continue
        errors.append(abs(value - r.auto_true))
        covered.append(low <= r.auto_true <= high)
    if not errors:
        return "n/a", "n/a"
    return f"{np.mean(errors):.4f}", f"{np.mean(covered):.0%} ({sum(covered)}/{len(covered)})"


def table(results: dict[tuple[str, str], list[Run]], full: dict[str, float]) -> str:
    header = [
        "data set",
        "strategy",
        "answers",
        "to 95%",
        "to 99%",
        "final",
        "promoted",
        "auto acc",
        "est MAE",
        "95% cover",
        "MAE exact",
        "cover exact",
    ]
    rows = [header]
    for (name, strategy), runs in results.items():
        auto = [r.auto_true for r in runs if r.auto_true is not None]
        mae, cover = _estimate_text(runs, "estimate")
        mae_x, cover_x = _estimate_text(runs, "estimate_exact")
        rows.append(
            [
                name,
                strategy,
                f"{np.mean([r.answers[-1] for r in runs]):.0f}",
                _reach_text(runs, 0.95 * full[name]),
                _reach_text(runs, 0.99 * full[name]),
                f"{np.mean([r.scores[-1] for r in runs]):.3f}",
                f"{np.mean([r.promoted for r in runs]):.1f}/"
                f"{np.mean([r.promoted + r.rejected for r in runs]):.0f}",
                f"{np.mean(auto):.4f}" if auto else "n/a",
                mae,
                cover,
                mae_x,
                cover_x,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def plot(
    results: dict[tuple[str, str], list[Run]],
    full: dict[str, float],
    metric_of: dict[str, str],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(full)
    fig, axes = plt.subplots(1, len(names), figsize=(6.2 * len(names), 4.6), squeeze=False)
    colours = {"uncertainty": "tab:blue", "random": "tab:orange", "none": "tab:gray"}
    for ax, name in zip(axes[0], names, strict=True):
        x_max = 0.0
        for strategy in STRATEGIES:
            runs = results[(name, strategy)]
            scores = np.asarray([r.scores for r in runs])
            if strategy == "none":  # a flat line across the same range of answers
                x = np.mean([r.answers for r in results[(name, "random")]], axis=0)
            else:
                x = np.mean([r.answers for r in runs], axis=0)
            x_max = max(x_max, float(x[-1]))
            mean = scores.mean(axis=0)
            low, high = np.percentile(scores, [10, 90], axis=0)
            ax.plot(x, mean, marker="o", ms=3, color=colours[strategy], label=strategy)
            ax.fill_between(x, low, high, color=colours[strategy], alpha=0.15, linewidth=0)
        for share, style in ((1.0, "-"), (0.99, "--"), (0.95, ":")):
            ax.axhline(
                share * full[name],
                color="black",
                linestyle=style,
                linewidth=0.8,
                label=f"{share:.0%} of full-data score",
            )
        ax.set_title(name)
        ax.set_xlabel("human answers collected (review budget + audits)")
        ax.set_ylabel(f"{metric_of[name]} on the test split")
        ax.set_xlim(0, x_max)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Learning curves: mean over seeds, band = 10th–90th percentile")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load(quick: bool, setup: Setup) -> dict[str, str]:
    """Fill ``DATA``; return a note per data set on how its rows were chosen."""
    fraud = credit_card_fraud(n=10_000 if quick else 20_000, random_state=0)
    tweets = airline_sentiment()
    notes = {}
    for data in (fraud, tweets):
        pool, test = split_holdout(
            len(data), fraction=setup.test_fraction, random_state=0, stratify=data.y
        )
        DATA[data.name] = (data, pool, test)
        shares = ", ".join(
            f"{label} {data.y.count(label):,} ({data.y.count(label) / len(data):.1%})"
            for label in data.labels
        )
        kept = " (all 492 frauds of the 284,807-row file)" if data.y.count("fraud") == 492 else ""
        notes[data.name] = (
            f"{len(data):,} rows{kept}: {data.note}; {shares}; test split {len(test):,}, "
            f"pool {len(pool):,}"
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="3 seeds, 10k fraud rows: a smoke run")
    parser.add_argument("--out", type=Path, default=DEFAULT_PNG, help="PNG of the learning curves")
    parser.add_argument(
        "--gate-z", type=float, default=1.0, help="gate's noise margin z (0: plain tolerance)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    setup = Setup(error_rate=args.error_rate, gate_z=args.gate_z)
    seeds = 3 if args.quick else args.seeds
    notes = load(args.quick, setup)

    full: dict[str, float] = {}
    metric_of: dict[str, str] = {}
    print("Data (bundled in installed wheels, no network):")
    for name, (data, pool, test) in DATA.items():
        metric = primary_metric(data.labels)
        metric_of[name] = metric
        t = time.perf_counter()
        model = fit(data.kind, [data.payloads[i] for i in pool], [data.y[i] for i in pool])
        full[name] = _test_score(model, data, test, metric)
        print(f"  {name}: {notes[name]}")
        print(
            f"    full-data baseline: {metric} {full[name]:.3f} "
            f"(fit on the whole pool + scoring the test split: {time.perf_counter() - t:.2f} s)"
        )
    budgets = ", ".join(f"{BUDGET[name]} ({name})" for name in DATA)
    print(
        f"Loop: seed set {setup.seed_size} (stratified), {setup.n_batches} batches, review budget "
        f"{budgets}/batch, review_below {setup.review_below}, audit_rate {setup.audit_rate}, "
        f"reviewer error {setup.error_rate:.0%}, gate tolerance {setup.tolerance} + "
        f"{setup.gate_z:g} x noise, "
        f"{seeds} seeds, {args.workers} worker(s)"
    )

    tasks = [(n, s, seed) for n in DATA for s in STRATEGIES for seed in range(seeds)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool_exec:
        futures = [pool_exec.submit(simulate, n, s, seed, setup) for n, s, seed in tasks]
        runs = [f.result() for f in futures]
    results: dict[tuple[str, str], list[Run]] = {}
    for (n, s, _), run in zip(tasks, runs, strict=True):
        results.setdefault((n, s), []).append(run)

    print()
    print(table(results, full))
    print()
    print(LEGEND)
    print()
    for name in DATA:
        per_run = {s: np.mean([r.seconds for r in results[(name, s)]]) for s in STRATEGIES}
        timing = ", ".join(f"{s} {v:.2f} s" for s, v in per_run.items())
        print(f"time per simulated run, {name}: {timing}")
    plot(results, full, metric_of, args.out)
    print(f"learning curves: {args.out}")
    print(f"total runtime: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
