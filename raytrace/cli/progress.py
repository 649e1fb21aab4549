"""A one-line progress bar on standard error, drawn only when it is a terminal (quiet in pipes, logs and CI)."""

from __future__ import annotations

import sys
import time

WIDTH = 30
REDRAW_S = 0.2


class Progress:
    """Call with the number of items just finished; `close()` ends the line. A no-op unless `stream` is a tty."""

    def __init__(self, total: int, label: str, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = total > 0 and self.stream.isatty()
        self.total, self.label, self.done = total, label, 0
        self.start = self.last = time.perf_counter()

    def __call__(self, n=1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self.last >= REDRAW_S or self.done >= self.total):
            self.last = now
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * WIDTH)
            self.stream.write(f"\r{self.label} [{bar:<{WIDTH}}] {100 * share:5.1f} % {now - self.start:6.1f} s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
