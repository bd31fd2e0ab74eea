"""Progress off a terminal: a line every few seconds and a last one; on a terminal, a bar."""

from __future__ import annotations

import io

from bot.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_one_line_every_period_and_one_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress(1000, "streaming items", file=out, every=5.0, clock=clock) as bar:
        for _ in range(10):  # 100 items a second
            clock.now += 1.0
            bar.update(100)
    assert out.getvalue().splitlines() == [
        "streaming items: 500 of 1,000 (50%)",
        "streaming items: 1,000 of 1,000 (100%)",
        "streaming items: 1,000 of 1,000 (100%) in 10 s",
    ]


def test_off_a_terminal_quick_work_gets_only_the_last_line() -> None:
    out = io.StringIO()
    with Progress(3, "ingesting into fraud", file=out, clock=Clock()) as bar:
        bar.update(3)
    assert out.getvalue() == "ingesting into fraud: 3 of 3 (100%) in 0 s\n"


def test_an_error_leaves_no_last_line() -> None:
    out = io.StringIO()
    try:
        with Progress(3, "x", file=out, clock=Clock()) as bar:
            bar.update(1)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert out.getvalue() == ""


def test_on_a_terminal_it_is_clicks_bar() -> None:
    out = Terminal()
    with Progress(4, "reviewers answering", file=out, clock=Clock()) as bar:
        bar.update(4)
    text = out.getvalue()
    assert "reviewers answering" in text and "100%" in text
    assert " of 4" not in text  # no periodic lines on a terminal
