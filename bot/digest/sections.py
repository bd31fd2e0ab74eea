"""What the weekly digest says, decided once: which figures, their wording, this week's value
beside the 7 days before, as plain text rows.

``bot.digest.blocks`` lays these rows out for Slack and ``bot.digest.plain_text`` for a
terminal, so Slack and ``hitl digest --dry-run`` can never disagree. Unmeasured figures are said
to be unmeasured, never shown as 0%; percents, intervals, durations and dates are worded by
``bot.figures_text``, as on App Home and in `/hitl stats`. Long lists are capped and counted
("and 12 more").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot import mrkdwn
from bot.digest.figures import DigestFigures, PeriodFigures, VersionChange
from bot.digest.segments import SegmentFigure
from bot.figures_text import (
    day_text,
    estimate_text,
    estimate_with_basis,
    human_duration,
    period_text,
    whole_percent,
)

Layout = Literal["fields", "stacked", "inline"]

MAX_REVIEWERS = 10
MAX_VERSIONS = 10
QUEUE_CHARS = 63  # the most of a queue name any digest text shows
_VERSION, _REASON, _METRIC, _BY = 80, 300, 60, 80


@dataclass(frozen=True)
class Row:
    """One figure: this week's value and, where it has one, the value of the 7 days before.

    All text is plain (not escaped); ``user`` is the Slack user id a row is about, whose
    name (or id, when it has none) is the label: named, never mentioned, so a weekly digest
    pings nobody.
    """

    label: str
    value: str
    previous: str | None = None
    user: str | None = None


@dataclass(frozen=True)
class DigestSection:
    """A titled group of rows, or a sentence (``note``) where figures would only be zeros.

    ``layout``: ``fields`` (short values, two to a row on a phone), ``stacked`` (label, value,
    previous value on lines of their own) or ``inline`` (one ``label: value`` line per row).
    ``more`` counts rows left out of a capped list.
    """

    title: str
    rows: tuple[Row, ...] = ()
    layout: Layout = "fields"
    note: str | None = None
    more: int = 0


def digest_sections(
    figures: DigestFigures, names: Mapping[str, str] | None = None
) -> list[DigestSection]:
    """What the digest says, in order: the one place that words the figures. ``names``: user
    id → name (``bot.digest.names``); ids without one show as they are."""
    this, last = figures.this_week, figures.last_week
    sections: list[DigestSection] = []
    if figures.new_queue:
        sections.append(
            DigestSection(
                "",
                note=f"{clean(figures.queue, QUEUE_CHARS)} has no data yet: no item has been"
                " scored. Figures start with the first week items come in.",
            )
        )
    elif this.empty:
        note = "No items came in and nobody answered this week."
        if last.items or last.answered:
            note += f" The 7 days before: {last.items:,} items scored, {last.answered:,} answered."
        sections.append(DigestSection("", note=note))
        if figures.backlog:
            sections.append(DigestSection("Waiting", tuple(_backlog_rows(figures))))
    else:
        sections += [_items(this, last), _answers(figures), _quality(figures)]
        flagged = _flagged(figures)
        if flagged is not None:
            sections.append(flagged)
        if this.answers_by_reviewer:
            sections.append(_reviewers(this, last, names or {}))
    if figures.segments and not figures.new_queue:
        sections.append(_segments(figures.segments))
    if this.versions:
        sections.append(_versions(this.versions, figures.queue))
    return sections


def _items(this: PeriodFigures, last: PeriodFigures) -> DigestSection:
    def row(label: str, now: int, before: int) -> Row:
        return Row(label, f"{now:,}", f"{before:,}")

    rows = [row("Items scored", this.items, last.items)]
    for route, label in (
        ("review", "Sent to review"),
        ("audit", "Audit sample"),
        ("auto", "Decided automatically"),
    ):
        rows.append(row(label, _routed(this, route), _routed(last, route)))
    return DigestSection("Items", tuple(rows))


def _answers(figures: DigestFigures) -> DigestSection:
    this, last = figures.this_week, figures.last_week
    rows = [
        Row("Answered", f"{this.answered:,}", f"{last.answered:,}"),
        Row(
            "Median time to answer",
            _duration(this.answer_seconds_median),
            _duration(last.answer_seconds_median),
        ),
        Row(
            "90% answered within",
            _duration(this.answer_seconds_p90),
            _duration(last.answer_seconds_p90),
        ),
        *_backlog_rows(figures),
    ]
    return DigestSection("Answers", tuple(rows))


def _backlog_rows(figures: DigestFigures) -> list[Row]:
    oldest = figures.oldest_waiting
    age = "—" if oldest is None else human_duration((figures.now - oldest).total_seconds())
    return [
        Row("Backlog now", f"{figures.backlog:,} waiting"),
        Row("Oldest waiting", age if figures.backlog else "none"),
    ]


def _quality(figures: DigestFigures) -> DigestSection:
    """The accuracy leads read is corrected for reviewer error and says what it rests on; the
    raw agreement of reviewers with the model on the same audits is beside it."""
    this, last, votes = figures.this_week, figures.last_week, figures.votes_required
    no_audit = "not measured (no audit answers this week)"
    no_alert = "not measured (no alerts answered this week)"
    rows = (
        Row(
            "Accuracy of automatic decisions",
            _with_basis(this, no_audit),
            _with_basis(last, "not measured"),
        ),
        Row(
            "Raw agreement on audits",
            estimate_text(this.automatic_agreement, unmeasured=no_audit),
            estimate_text(last.automatic_agreement, unmeasured="not measured"),
        ),
        Row(
            "Alerts confirmed by reviewers",
            estimate_text(this.confirmed, unmeasured=no_alert),
            estimate_text(last.confirmed, unmeasured="not measured"),
        ),
        Row("Reviewer agreement", _agreement(this, votes), _agreement(last, votes)),
    )
    return DigestSection("Quality", rows, layout="stacked")


def _with_basis(period: PeriodFigures, unmeasured: str) -> str:
    return estimate_with_basis(
        period.automatic_accuracy, period.accuracy_note, unmeasured=unmeasured
    )


def _flagged(figures: DigestFigures) -> DigestSection | None:
    """Reviewers whose answers stopped training the model, named to the leads, each with the
    checked answers the flag rests on; or, when none is, how many were measured."""
    measured = figures.reviewer_accuracy
    if not measured:
        return None
    flagged = sorted((u for u, a in measured.items() if a.flagged), key=lambda u: (-1, u))
    checked = sum(a.estimate.n for a in measured.values())
    if not flagged:
        note = (
            f"No reviewer is flagged: {len(measured):,} measured on {checked:,} answers of"
            " known truth (control items and outcomes)."
        )
        return DigestSection("Reviewers flagged", note=note)
    rows = []
    for user in flagged[:MAX_REVIEWERS]:
        a = measured[user]
        basis = f"{a.control:,} control answers" + (
            f", {a.outcomes:,} outcomes" if a.outcomes else ""
        )
        value = (
            f"{estimate_text(a.estimate)[:-1]}: {basis}); right too rarely, so their answers"
            " no longer train the model"
        )
        rows.append(Row(clean(user, 64), value, user=clean(user, 64)))
    return DigestSection(
        "Reviewers flagged", tuple(rows), layout="inline", more=len(flagged) - len(rows)
    )


def _agreement(period: PeriodFigures, votes_required: int) -> str:
    kappa, n = period.agreement, period.agreement_items
    if votes_required < 2:
        return "single vote per item"
    if kappa is None:
        if n == 0:
            return "not measured (no item got all its votes)"
        return f"not defined: every vote went to one label ({n:,} items)"
    return f"{kappa:.2f} Fleiss' kappa, {_kappa_word(kappa)} ({n:,} items)"


def _kappa_word(kappa: float) -> str:
    """Landis & Koch's names for kappa ranges, so a lead need not know the scale."""
    for upper, word in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate")):
        if kappa <= upper:
            return word
    return "substantial" if kappa <= 0.8 else "almost perfect"


def _reviewers(this: PeriodFigures, last: PeriodFigures, names: Mapping[str, str]) -> DigestSection:
    ranked = sorted(this.answers_by_reviewer.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = tuple(
        Row(
            clean(names.get(user, user), 64),
            f"{count:,}",
            f"{last.answers_by_reviewer.get(user, 0):,}",
            user=clean(user, 64),
        )
        for user, count in ranked[:MAX_REVIEWERS]
    )
    return DigestSection(
        "Answers per reviewer", rows, layout="inline", more=len(ranked) - len(rows)
    )


def _segments(segments: dict[str, list[SegmentFigure]]) -> DigestSection:
    """Segments worse than the rest first, one line each ("purpose = small_business: 88%
    (81–93%) vs 97% elsewhere"), then every segment's figures."""
    everything = [f for figures in segments.values() for f in figures]
    rows = [
        Row(
            f"⚠️ {_segment(f)}",
            f"{_whole(f.accuracy.value)} ({_whole(f.accuracy.low).rstrip('%')}"
            f"–{_whole(f.accuracy.high)})"
            f" vs {_whole(f.elsewhere.value)} elsewhere",
        )
        for f in everything
        if f.flagged
    ]
    for f in everything:
        accuracy = estimate_text(f.accuracy, unmeasured="not measured (no audit answers)")
        corrected = estimate_text(f.corrected, unmeasured="no answers")
        rows.append(
            Row(
                _segment(f),
                f"automatic decisions right {accuracy}; answers correcting the model {corrected}",
            )
        )
    return DigestSection("Segments, last 12 weeks", tuple(rows), layout="inline")


def _segment(f: SegmentFigure) -> str:
    return f"{clean(f.name, _METRIC)} = {clean(f.label, _METRIC)}"


def _whole(share: float | None) -> str:
    return "?" if share is None else whole_percent(share)


def _versions(changes: list[VersionChange], queue: str) -> DigestSection:
    """Newest first: what a lead wants to know is where the queue stands now."""
    ordered = sorted(changes, key=lambda change: change.at, reverse=True)
    rows = tuple(_version_row(change, queue) for change in ordered[:MAX_VERSIONS])
    return DigestSection("Model versions", rows, layout="inline", more=len(ordered) - len(rows))


def _version_row(change: VersionChange, queue: str) -> Row:
    if change.outcome == "rolled_back":
        by = clean(change.by or "someone", _BY)
        value = f"by {by}, {day_text(change.at)}"
        if change.pinned:
            value += f"; retraining paused until `hitl unpin {clean(queue, QUEUE_CHARS)}`"
        return Row(f"Rolled back to {clean(change.version, _VERSION)}", value)
    verb = {"promoted": "Promoted", "rejected": "Rejected"}.get(change.outcome)
    if verb is None:
        raise ValueError(
            f"version outcome must be promoted, rejected or rolled_back, got {change.outcome!r}"
        )
    metric = "no metric" if change.metric is None else clean(change.metric, _METRIC)
    if change.before is None and change.after is not None:  # a first model: nothing before it
        value = f"{metric} {_score(change.after)} (first model), {day_text(change.at)}"
    else:
        value = f"{metric} {_score(change.before)} → {_score(change.after)}, {day_text(change.at)}"
    if change.outcome == "rejected":
        value += f"; reason: {clean(change.reason or 'not given', _REASON)}"
    return Row(f"{verb} {clean(change.version, _VERSION)}", value)


def headline(figures: DigestFigures) -> str:
    """``Weekly digest of fraud, 20–27 Nov 2026``: the fallback text and the first plain line."""
    period = period_text(figures.this_week.start, figures.this_week.end)
    return f"Weekly digest of {clean(figures.queue, QUEUE_CHARS)}, {period}"


def subtitle(figures: DigestFigures) -> str:
    before = period_text(figures.last_week.start, figures.last_week.end)
    version = figures.model_version
    model = "no model yet" if version is None else f"model {clean(version, _VERSION)}"
    return f"Last 7 days against the 7 before ({before}) · {model}"


def previous_text(row: Row) -> str:
    return "" if row.previous is None else f" (prev. {row.previous})"


def _routed(period: PeriodFigures, route: str) -> int:
    if route not in period.routed:
        raise ValueError(f"routed counts lack {route!r}: {sorted(period.routed)}")
    return period.routed[route]


def _duration(seconds: float | None) -> str:
    return "no answers" if seconds is None else human_duration(seconds)


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def clean(text: str, limit: int) -> str:
    """Registry or config text on one line without control characters, at most ``limit``."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return mrkdwn.truncate(flat or "(blank)", limit)
