"""The import's progress: a bar redrawn in place on a terminal, plain lines every few seconds otherwise."""

from __future__ import annotations

import time
from typing import IO


class ImportProgress:
    """Call with the rows done so far; `finish` ends the bar's line. Rate and ETA from the start."""

    WIDTH = 30

    def __init__(self, out: IO[str], total: int, *, terminal: bool, every: float = 2.0) -> None:
        self.out, self.total, self.terminal, self.every = out, max(total, 1), terminal, every
        self.started = time.perf_counter()
        self.last_line = self.started
        self.done = 0

    def __call__(self, done: int) -> None:
        self.done = done
        now = time.perf_counter()
        if self.terminal:
            self.out.write("\r" + self._bar(now))
            self.out.flush()
        elif now - self.last_line >= self.every or done >= self.total:
            self.last_line = now
            self.out.write(f"Progress: {self._figures(now)}\n")
            self.out.flush()

    def finish(self) -> None:
        if self.terminal:
            self.out.write("\n")
            self.out.flush()

    def _bar(self, now: float) -> str:
        filled = int(self.WIDTH * min(self.done / self.total, 1.0))
        return f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self._figures(now)}"

    def _figures(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0) / rate if rate else 0.0
        share = 100 * min(self.done / self.total, 1.0)
        return f"{self.done:,}/{self.total:,} rows ({share:.0f}%), {rate:,.0f} rows/s, ETA {left:.0f}s"
