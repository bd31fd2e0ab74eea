"""Progress of long work (`hitl ingest`, `hitl demo`), wherever its output goes.

On a terminal, click's progress bar. Anywhere else (a CI log, a pipe, a platform's log drain)
click's bar prints its label once and nothing until the end, so minutes of work look like a
hang: there it is one line every few seconds instead, and a last one when the work is done.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

import click

EVERY_SECONDS = 5.0


class Progress:
    """``with Progress(n, "label") as bar: bar.update(k)`` — a bar or periodic lines."""

    def __init__(
        self,
        length: int,
        label: str,
        *,
        file: TextIO | None = None,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.length = length
        self.label = label
        self.file = file if file is not None else sys.stderr
        self.every = EVERY_SECONDS if every is None else every
        self.clock = clock
        self.done = 0
        self._bar: Any = None
        self._started = self._last = 0.0

    @property
    def on_terminal(self) -> bool:
        isatty = getattr(self.file, "isatty", None)
        return bool(isatty and isatty())

    def __enter__(self) -> Progress:
        if self.on_terminal:
            self._bar = click.progressbar(length=self.length, label=self.label, file=self.file)
            self._bar.__enter__()
        else:
            self._started = self._last = self.clock()
        return self

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self.clock()
        if now - self._last >= self.every:
            self._last = now
            self._line(now)

    def _line(self, now: float, *, final: bool = False) -> None:
        share = f" ({100 * self.done / self.length:.0f}%)" if self.length else ""
        took = f" in {now - self._started:.0f} s" if final else ""
        click.echo(f"{self.label}: {self.done:,} of {self.length:,}{share}{took}", file=self.file)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
        elif exc_type is None:
            self._line(self.clock(), final=True)
