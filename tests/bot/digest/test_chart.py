"""The digest chart: a real PNG of the expected size, gaps (not zeros) for unmeasured weeks."""

from __future__ import annotations

import io
import struct
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest
from matplotlib.image import imread

from bot.digest.chart import DPI, HEIGHT_IN, WIDTH_IN, chart_alt_text, digest_chart
from bot.digest.figures import HISTORY_WEEKS, WEEK, VersionMark, WeekPoint
from models.estimates import Estimate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH, HEIGHT = round(WIDTH_IN * DPI), round(HEIGHT_IN * DPI)
LINE_RGB = np.array([0x1F, 0x5F, 0xA8])  # the accuracy line's colour in bot/digest/chart.py
T0 = datetime(2026, 9, 7, tzinfo=UTC)


def week(n: int, accuracy: Estimate | None = None, answered: int = 100) -> WeekPoint:
    estimate = accuracy if accuracy is not None else Estimate.unmeasured()
    return WeekPoint(start=T0 + n * WEEK, automatic_accuracy=estimate, answered=answered)


MEASURED = Estimate(value=0.98, low=0.95, high=0.99, n=60)


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    # IHDR is the first chunk: length, type, then width and height as big-endian uint32.
    assert png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (WIDTH, HEIGHT)
    image = imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (HEIGHT, WIDTH)
    return image


def line_rows(image: np.ndarray) -> set[int]:
    """Pixel rows holding the accuracy line's colour (the line, its markers, its legend key)."""
    rgb = image[..., :3] * 255
    close = np.abs(rgb - LINE_RGB).sum(axis=2) < 30
    return set(np.nonzero(close)[0].tolist())


def test_a_year_of_history_renders_a_phone_sized_png() -> None:
    history = [week(n, MEASURED if n % 3 else None, answered=50 + n) for n in range(HISTORY_WEEKS)]
    image = decode(digest_chart(history, queue="fraud"))
    rows = line_rows(image)
    assert any(row < HEIGHT / 2 for row in rows), "the accuracy line is drawn in the plot"
    # An unmeasured week drawn as 0% would pull the line down to the bottom of the plot; the
    # band between mid-plot and the legend (bottom 10%) must hold none of its colour.
    assert not [row for row in rows if HEIGHT * 0.5 < row < HEIGHT * 0.9]


def test_weeks_with_no_measure_at_all_still_render() -> None:
    history = [week(n, answered=0) for n in range(HISTORY_WEEKS)]
    image = decode(digest_chart(history, queue="fraud"))
    assert not line_rows(image), "no accuracy line and no legend key for it"


@pytest.mark.parametrize(
    "history",
    [
        [week(0, MEASURED)],
        # A measured week between unmeasured ones: a point with its interval, no line.
        [week(0), week(1, Estimate(value=1.0, low=0.94, high=1.0, n=60)), week(2)],
        # An interval rounding left a hair inside its value must not break errorbar.
        [week(0, Estimate(value=0.9, low=0.9000000001, high=0.95, n=10))],
    ],
    ids=["one-week", "isolated-point", "interval-rounding"],
)
def test_short_and_odd_histories_render(history: list[WeekPoint]) -> None:
    decode(digest_chart(history, queue="fraud"))


def test_queue_name_is_shown_as_text_not_parsed_as_math() -> None:
    # Parsed as mathtext, the unknown command would raise while drawing.
    decode(digest_chart([week(0, MEASURED)], queue="fraud $\\notacommand$"))


def test_charts_drawn_at_once_in_threads_do_not_mix() -> None:
    """No pyplot state: each chart is the one drawn alone (rendering is deterministic)."""
    histories = {
        "fraud": [week(n, MEASURED, answered=10) for n in range(3)],
        "support": [week(n, answered=500) for n in range(5)],
    }
    alone = {queue: digest_chart(history, queue=queue) for queue, history in histories.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = dict(
            zip(
                histories,
                pool.map(lambda kv: digest_chart(kv[1], queue=kv[0]), histories.items()),
                strict=True,
            )
        )
    assert together == alone


def test_empty_history_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one week"):
        digest_chart([], queue="fraud")


MARK_RGB = np.array([0x6B, 0x4F, 0xA0])  # the version marks' colour in bot/digest/chart.py


def mark_columns(image: np.ndarray) -> set[int]:
    rgb = image[..., :3] * 255
    close = np.abs(rgb - MARK_RGB).sum(axis=2) < 40
    return set(np.nonzero(close)[1].tolist())


def test_promotions_and_rollbacks_are_marked_at_their_week() -> None:
    history = [week(n, MEASURED, answered=80) for n in range(HISTORY_WEEKS)]
    plain = decode(digest_chart(history, queue="fraud"))
    assert not mark_columns(plain)
    marks = [VersionMark(3, "fraud-v2", False), VersionMark(9, "fraud-v1", True)]
    marked = decode(digest_chart(history, queue="fraud", marks=marks))
    columns = sorted(mark_columns(marked))
    assert columns and columns[0] < WIDTH * 0.45 < WIDTH * 0.55 < columns[-1]  # weeks 3 and 9


def test_alt_text_says_what_the_chart_shows() -> None:
    history = [week(n, answered=10 * n) for n in range(HISTORY_WEEKS)]
    history[2] = week(2, Estimate(0.9, 0.8, 0.95, 40), answered=20)
    history[10] = week(10, Estimate(0.985, 0.96, 0.995, 60), answered=100)
    marks = [VersionMark(4, "fraud-v2", False), VersionMark(8, "fraud-v1", True)]
    text = chart_alt_text(history, marks, queue="fraud")
    assert text.startswith("Chart of fraud over 12 weeks (7 Sep to 23 Nov)")
    assert "Accuracy 90.0% in the week of 21 Sep, 98.5% in the week of 16 Nov" in text
    assert "measured in 2 of 12 weeks" in text
    assert "Most answers: 110 in the week of 23 Nov." in text
    assert (
        "Promoted fraud-v2 in the week of 5 Oct. Rolled back to fraud-v1 in the week of 2 Nov"
        in text
    )
    assert len(text) <= 1000
