"""What commands print: plain text off a terminal, progress that ends at 100%.

Rich writes no ANSI codes unless the stream is a terminal (and honours NO_COLOR); a
progress bar becomes plain lines when it is not, so logs and pipes stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

Unit = Literal["bytes", "records"]
PLAIN_EVERY_SECONDS = 10.0
"""Off a terminal, a progress line at most this often, and one when done."""


def console(*, stderr: bool = False) -> Console:
    """A console for command output: no highlighting, lines never wrapped (pipes, logs)."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@dataclass
class ProgressLine:
    """Work done so far; `advance` and `update` as the work goes, `finish` when it is done."""

    description: str
    total: float | None
    unit: Unit
    done: float = 0.0
    _bar: Progress | None = None
    _task: TaskID | None = None
    _console: Console | None = None
    _last_line: float = field(default_factory=time.monotonic)

    def advance(self, amount: float) -> None:
        self.update(self.done + amount, self.total)

    def update(self, done: float, total: float | None = None) -> None:
        self.done = done
        self.total = total if total is not None else self.total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=self.total)
        elif time.monotonic() - self._last_line >= PLAIN_EVERY_SECONDS:
            self._print_line()

    def finish(self) -> None:
        """All the work is done: 100%, whatever the estimate of the total was."""
        self.total = max(self.total or 0.0, self.done)
        self.done = self.total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done, total=self.total)
        else:
            self._print_line()

    def _print_line(self) -> None:
        self._last_line = time.monotonic()
        if self._console is None:
            return
        percent = f"{100 * self.done / self.total:.0f}%" if self.total else "…"
        self._console.print(f"{self.description}: {percent} ({self._amount()})", markup=False)

    def _amount(self) -> str:
        if self.unit == "bytes":
            return decimal(int(self.done))
        total = f"/{int(self.total)}" if self.total is not None else ""
        return f"{int(self.done)}{total}"


@contextmanager
def progress(
    description: str, total: float | None, *, out: Console, unit: Unit = "records"
) -> Iterator[ProgressLine]:
    """A bar on a terminal, plain lines elsewhere; at 100% when the block ends normally."""
    line = ProgressLine(description, total, unit, _console=out)
    if not out.is_terminal:
        yield line
        line.finish()
        return
    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        amount,
        TimeRemainingColumn(),
        console=out,
    ) as bar:
        line._bar = bar
        line._task = bar.add_task(description, total=total)
        yield line
        line.finish()
