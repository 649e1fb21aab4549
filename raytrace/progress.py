"""Feedback on standard error, drawn only where a line can be redrawn, a terminal or a Jupyter cell (quiet in pipes,
logs and CI): a one-line progress bar, a spinner around steps of unknown length, and a notice while numba compiles
kernels. The API and the command line share them."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

WIDTH = 30
REDRAW_S = 0.2


def drawable(stream) -> bool:
    """Whether a line redrawn with carriage returns shows as one line on `stream`: a terminal, or the output of a
    Jupyter cell (ipykernel's streams, which are not ttys but render carriage returns)."""
    if stream is None or not hasattr(stream, "isatty"):  # pythonw and some daemons have no standard error
        return False
    try:
        return stream.isatty() or type(stream).__module__.split(".")[0] == "ipykernel"
    except ValueError:  # a closed stream
        return False


@contextlib.contextmanager
def reporting(progress, total: int, label: str, finishing: str | None = None):
    """The progress callable of a run of the API: the caller's own callable; none for False or None; and for True a
    `Progress` bar of `total` items on standard error where one can be drawn, closed when the run ends, with the
    notice of a first run's compilation. Only the main thread draws: runs in worker threads would interleave."""
    if progress is not True:
        yield progress or None
    elif threading.current_thread() is not threading.main_thread():
        yield None
    else:
        with CompileNotice():
            bar = Progress(total, label, finishing=finishing)
            try:
                yield bar
            finally:
                bar.close()


class Progress:
    """Call with the number of items just finished; `close()` ends the line. A no-op unless `stream` is drawable.

    `finishing`: what the command does once all items are done (the limits after the tracing, say); the line then
    says so and its clock keeps running until `close()`, so that a long last step does not look like a hang."""

    def __init__(self, total: int, label: str, stream=None, finishing: str | None = None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = total > 0 and drawable(self.stream)
        self.total, self.label, self.done, self.finishing = total, label, 0, finishing
        self.start = self.last = time.perf_counter()
        self.ticker = None
        self.drawn = False

    def _complete(self) -> bool:
        return self.done >= self.total * (1 - 1e-9)  # shares of a total, added in floating point, may fall short

    def __call__(self, n=1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self.last >= REDRAW_S or self._complete()):
            self.drawn = True
            self.last = now
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * WIDTH)
            self.stream.write(f"\r{self.label} [{bar:<{WIDTH}}] {100 * share:5.1f} % {now - self.start:6.1f} s")
            self.stream.flush()
            if self._complete() and self.finishing and self.ticker is None:
                self.stream.write("\n")
                self.ticker = Ticker(self.finishing, self.stream).__enter__()

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.__exit__(None, None, None)
        elif self.drawn:  # a run that failed before its first ray leaves no empty line before its error
            self.stream.write("\n")
            self.stream.flush()


class Ticker:
    """Around a step of unknown length (a fit, a search): its label, a spinner and the time so far on standard error,
    redrawn until the step ends, then cleared; a no-op unless `stream` is drawable."""

    FRAMES = "|/-\\"

    def __init__(self, label: str, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.enabled = drawable(self.stream)
        self.closing = threading.Event()
        self.thread = None
        self.drawn = 0

    def __enter__(self):
        if self.enabled:
            self.start = time.perf_counter()
            self.thread = threading.Thread(target=self._draw, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc_info):
        if self.thread is not None:
            self.closing.set()
            self.thread.join()
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
        return False

    def _draw(self) -> None:
        frame = 0
        while not self.closing.wait(REDRAW_S):
            text = f"{self.label} {self.FRAMES[frame % len(self.FRAMES)]} {time.perf_counter() - self.start:6.1f} s"
            self.stream.write("\r" + text)
            self.stream.flush()
            self.drawn, frame = len(text), frame + 1


class CompileNotice:
    """While numba compiles kernels (a first run, or after an upgrade), say so on standard error with a spinner and
    the time so far, and at the end how long compiling took; a no-op unless `stream` is drawable, and inside
    another notice (an API call that a command makes). Between compilations the line is cleared, so that the
    command's own output stays clean. Use as a context manager around a command or an API call."""

    FRAMES = "|/-\\"
    active = False  # a notice is showing: one inside it (or in another thread) stays quiet
    _claim = threading.Lock()

    def __init__(self, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = drawable(self.stream)
        self.lock = threading.Lock()
        self.depth = 0
        self.compiled_s = 0.0  # time spent in finished compilations
        self.started = None  # when the running compilation began (None: none is running)
        self.drawn = 0  # length of the notice on screen
        self.closing = threading.Event()
        self.thread = None
        self.listener = None

    def __enter__(self):
        with CompileNotice._claim:
            self.enabled = self.enabled and not CompileNotice.active
            if self.enabled:
                from numba.core import event

                self.listener = _listener(self)
                event.register("numba:compile", self.listener)
                self.thread = threading.Thread(target=self._draw, daemon=True)
                self.thread.start()
                CompileNotice.active = True
        return self

    def __exit__(self, *exc_info):
        if self.enabled:
            from numba.core import event

            event.unregister("numba:compile", self.listener)
            with CompileNotice._claim:
                CompileNotice.active = False
            self.closing.set()
            self.thread.join()
            self._clear()  # if interrupted while compiling
            if self.compiled_s > 0 and exc_info[0] is None:
                self.stream.write(f"compiled kernels in {self.compiled_s:.1f} s (first run only: they are cached)\n")
                self.stream.flush()
        return False

    def compile_started(self) -> None:
        with self.lock:
            self.depth += 1
            if self.depth == 1:
                self.started = time.perf_counter()

    def compile_ended(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                self.compiled_s += time.perf_counter() - self.started
                self.started = None
                self._clear()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0

    def _draw(self) -> None:
        frame = 0
        while not self.closing.wait(REDRAW_S / 2):
            with self.lock:
                if self.started is None:
                    continue
                text = (
                    f"compiling kernels (first run only) {self.FRAMES[frame % len(self.FRAMES)]} "
                    f"{self.compiled_s + time.perf_counter() - self.started:5.1f} s"
                )
                self.stream.write("\r" + text)
                self.stream.flush()
                self.drawn = len(text)
                frame += 1


def _listener(notice: CompileNotice):
    """A listener of numba's compile events that tells `notice` (numba is imported only when it is needed)."""
    from numba.core import event

    class Listener(event.Listener):
        def on_start(self, data) -> None:
            notice.compile_started()

        def on_end(self, data) -> None:
            notice.compile_ended()

    return Listener()
