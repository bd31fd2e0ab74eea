"""The digest's chart: weekly accuracy of automatic decisions and review volume, as a PNG.

Drawn with matplotlib's object API (``Figure`` + ``FigureCanvasAgg``), never ``pyplot``: pyplot
keeps global state, so two digests drawn at once in one process (the clock's thread pool)
could draw into each other's figure. Sized for a phone (800×450 px) with large type.

Weeks without audit answers have no accuracy: the line has a gap there, never a drop to 0.
Promotions and rollbacks are marked at their week with the version's name, so a change in the
line can be read against the model that made it. ``chart_alt_text`` says the same in words for
people who cannot see the image (Slack's ``alt_txt``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.transforms import blended_transform_factory

from bot.digest.figures import VersionMark, WeekPoint
from bot.figures_text import day_text, share_percent

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100
_LINE, _BARS, _MARK = "#1f5fa8", "#c9ccd1", "#6b4fa0"
ALT_TEXT = 1000  # Slack's limit on a file's alt_txt


def digest_chart(
    history: list[WeekPoint], *, queue: str, marks: Sequence[VersionMark] = ()
) -> bytes:
    """A PNG of ``history`` (oldest week first) for ``queue``'s digest thread, with the
    versions made current marked at their week."""
    if not history:
        raise ValueError("history must hold at least one week")
    x = np.arange(len(history))
    value, low, high = (
        np.array([_share(getattr(w.automatic_accuracy, k)) for w in history], dtype=float)
        for k in ("value", "low", "high")
    )
    answered = np.array([w.answered for w in history], dtype=float)

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    accuracy = fig.add_subplot()
    volume = accuracy.twinx()
    # The line is the point of the chart: draw it above the bars of the other axis.
    accuracy.set_zorder(volume.get_zorder() + 1)
    accuracy.patch.set_visible(False)

    volume.bar(x, answered, width=0.6, color=_BARS, label="Answered per week")
    volume.set_ylabel("answered per week", fontsize=11)
    volume.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    volume.set_ylim(0, max(1.0, float(answered.max()) * 1.15))

    measured = ~np.isnan(value)
    if measured.any():
        accuracy.fill_between(x, low, high, where=measured, color=_LINE, alpha=0.15, lw=0)
        accuracy.errorbar(
            x,
            value,
            # Clipped: an interval that rounding left a hair inside its value must not fail.
            yerr=np.clip(np.vstack([value - low, high - value]), 0.0, None),
            fmt="o-",
            color=_LINE,
            capsize=3,
            lw=2,
            elinewidth=1,
            ecolor="#7f9cc4",
            label="Accuracy of automatic decisions (95% CI)",
        )
        bottom = float(np.nanmin(low))
        accuracy.set_ylim(max(0.0, math.floor(bottom * 20 - 0.5) / 20), 1.005)
    else:
        accuracy.set_ylim(0, 1)
        accuracy.text(
            0.5,
            0.55,
            "accuracy not measured: no audit answers in these weeks",
            transform=accuracy.transAxes,
            ha="center",
            fontsize=12,
            color="#555555",
            parse_math=False,
        )
    _mark_versions(accuracy, marks)
    accuracy.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    accuracy.set_ylabel("accuracy of automatic decisions", fontsize=11)
    accuracy.set_xticks(x, [day_text(w.start) for w in history])
    accuracy.set_xlim(-0.6, len(history) - 0.4)
    accuracy.set_xlabel("week starting", fontsize=11)
    accuracy.grid(axis="y", alpha=0.3)
    for axis in (accuracy, volume):
        axis.tick_params(labelsize=10)
        axis.spines["top"].set_visible(False)
    accuracy.set_title(f"{queue}: weekly accuracy and review volume", fontsize=14, parse_math=False)
    handles = [h for ax in (accuracy, volume) for h in ax.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=10, frameon=False)

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _mark_versions(axes: Any, marks: Sequence[VersionMark]) -> None:
    """A dashed line at each week a version was made current, named at the top."""
    by_week: dict[int, list[str]] = {}
    for mark in marks:
        name = f"↩ {mark.version}" if mark.rollback else mark.version
        by_week.setdefault(mark.week, []).append(name)
    top = blended_transform_factory(axes.transData, axes.transAxes)
    for week, names in sorted(by_week.items()):
        axes.axvline(week, color=_MARK, ls="--", lw=1, alpha=0.7, zorder=0)
        label = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"
        axes.text(
            week + 0.08,
            0.98,
            label,
            transform=top,
            rotation=90,
            va="top",
            ha="left",
            fontsize=9,
            color=_MARK,
            parse_math=False,
        )


def chart_alt_text(
    history: Sequence[WeekPoint], marks: Sequence[VersionMark], *, queue: str
) -> str:
    """The chart in words: the weeks it covers, where accuracy started and ended, the busiest
    week, and each version made current."""
    if not history:
        return f"{queue}: no weeks to chart"
    first, last = history[0].start, history[-1].start
    measured = [w for w in history if w.automatic_accuracy.value is not None]
    parts = [
        f"Chart of {queue} over {len(history)} weeks ({day_text(first)} to {day_text(last)}):"
        " weekly accuracy of automatic decisions as a line with its 95% interval, answers"
        " per week as bars."
    ]
    if measured:
        start, end = measured[0], measured[-1]
        parts.append(
            f"Accuracy {share_percent(start.automatic_accuracy.value or 0.0)}% in the week of"
            f" {day_text(start.start)}, {share_percent(end.automatic_accuracy.value or 0.0)}%"
            f" in the week of {day_text(end.start)}; measured in {len(measured)} of"
            f" {len(history)} weeks."
        )
    else:
        parts.append("Accuracy not measured: no audit answers in these weeks.")
    busiest = max(history, key=lambda w: w.answered)
    parts.append(
        f"Most answers: {busiest.answered:,} in the week of {day_text(busiest.start)}."
        if busiest.answered
        else "No answers in these weeks."
    )
    for mark in marks:
        verb = "Rolled back to" if mark.rollback else "Promoted"
        week = history[mark.week].start if 0 <= mark.week < len(history) else None
        parts.append(
            f"{verb} {mark.version}" + (f" in the week of {day_text(week)}." if week else ".")
        )
    text = " ".join(parts)
    return text if len(text) <= ALT_TEXT else text[: ALT_TEXT - 1] + "…"


def _share(value: float | None) -> float:
    return math.nan if value is None else float(value)
