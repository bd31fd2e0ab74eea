"""Figures per segment value, to expose bias: is the model as right on small businesses as on
everyone else?

For each name in the queue's ``segments`` (a feature or a context value), the ten values with
the most answered items, then the rest as "other": the accuracy of automatic decisions in that
segment (from its audit answers, the queue's estimator: ``accuracy_estimate``) and the share of
answers that corrected the model (every answered item of the segment, review and audit), both
with 95% intervals. A segment whose accuracy interval lies wholly below the interval of all
other segments together is flagged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.masking import Masking
from models.estimates import AuditAnswer, Estimate, automatic_accuracy, weighted_proportion
from storage.segment_data import SegmentRow

TOP_VALUES = 10
OTHER = "other"
MISSING = "(none)"


@dataclass(frozen=True)
class SegmentFigure:
    name: str
    #: The value as items carry it ("other": every value past the ten largest; "(none)": items
    #: without one).
    value: str
    #: The value as Slack may show it (masked like any item text).
    label: str
    #: Answered items of the segment.
    items: int
    accuracy: Estimate
    #: Accuracy of automatic decisions in every other segment together.
    elsewhere: Estimate
    #: Share of answered items where people corrected the model.
    corrected: Estimate
    flagged: bool


def accuracy_estimate(rows: Sequence[SegmentRow]) -> Estimate:
    """The accuracy of automatic decisions among ``rows``, from their audit answers.

    The one call to the queue's accuracy estimator: when the estimator corrected for reviewer
    error lands (``models.estimates``), it is swapped in here; ``item_pk`` lets it find who
    answered each item.
    """
    return automatic_accuracy(
        [
            AuditAnswer(r.predicted, r.answer, r.sampling_probability)
            for r in rows
            if r.route == "audit"
        ]
    )


def _value(raw: object) -> str:
    if raw is None or raw == "":
        return MISSING
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def segment_figures(
    rows: Sequence[SegmentRow], names: Sequence[str], *, masking: Masking | None = None
) -> dict[str, list[SegmentFigure]]:
    """name → its segments, largest first, "other" last."""
    masking = masking or Masking()
    out: dict[str, list[SegmentFigure]] = {}
    for name in names:
        values = [_value(r.values.get(name)) for r in rows]
        counts = Counter(values)
        top = [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]]
        grouped = [v if v in top else OTHER for v in values]
        figures = []
        for value in [*top, *([OTHER] if OTHER in grouped and OTHER not in top else [])]:
            inside = [r for r, g in zip(rows, grouped, strict=True) if g == value]
            outside = [r for r, g in zip(rows, grouped, strict=True) if g != value]
            accuracy, elsewhere = accuracy_estimate(inside), accuracy_estimate(outside)
            corrected = weighted_proportion(
                [r.answer != r.predicted for r in inside], [1.0] * len(inside)
            )
            figures.append(
                SegmentFigure(
                    name=name,
                    value=value,
                    label=masking.text(value),
                    items=len(inside),
                    accuracy=accuracy,
                    elsewhere=elsewhere,
                    corrected=corrected,
                    flagged=_below(accuracy, elsewhere),
                )
            )
        out[name] = figures
    return out


def _below(segment: Estimate, elsewhere: Estimate) -> bool:
    """The segment's whole interval lies under the rest's: worse beyond the noise."""
    return segment.high is not None and elsewhere.low is not None and segment.high < elsewhere.low


def segments_json(figures: dict[str, list[SegmentFigure]]) -> dict[str, dict[str, object]]:
    """``{name: {value: {value, low, high, n, flagged, corrected, items}}}`` for the API."""
    return {
        name: {
            f.value: {
                "value": f.accuracy.value,
                "low": f.accuracy.low,
                "high": f.accuracy.high,
                "n": f.accuracy.n,
                "flagged": f.flagged,
                "elsewhere": _estimate(f.elsewhere),
                "corrected": _estimate(f.corrected),
                "items": f.items,
            }
            for f in segments
        }
        for name, segments in figures.items()
    }


def _estimate(e: Estimate) -> dict[str, object]:
    return {"value": e.value, "low": e.low, "high": e.high, "n": e.n}
