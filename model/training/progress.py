"""The trainer's progress bar: samples done, running loss and accuracy, speed and time left."""

import time

from model.formatting import duration

PROGRESS_INTERVAL_TTY_S = 0.2
PROGRESS_INTERVAL_LOG_S = 10.0
"""How often the progress bar redraws on a terminal, and in a log file."""

PROGRESS_BAR_WIDTH = 24


class ProgressBar:
    """A one-line progress bar for a training epoch, redrawn with a carriage return: plain text."""

    def __init__(self, stream, label, total):
        self.stream, self.label, self.total = stream, label, total
        self.started = self.drawn = time.perf_counter()
        is_terminal = getattr(stream, "isatty", lambda: False)()
        self.interval = PROGRESS_INTERVAL_TTY_S if is_terminal else PROGRESS_INTERVAL_LOG_S
        self.width = 0

    def update(self, done, loss, accuracy, force=False):
        """Redraw the bar for `done` of `total` samples, at most once per interval."""
        now = time.perf_counter()
        if not force and now - self.drawn < self.interval:
            return
        self.drawn = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else 0.0
        filled = PROGRESS_BAR_WIDTH * done // self.total
        bar = "#" * filled + "." * (PROGRESS_BAR_WIDTH - filled)
        line = (
            f"{self.label} [{bar}] {100 * done // self.total:3d}% "
            f"loss {loss:.4f} acc {accuracy:.4f} {rate:,.0f} samples/s ETA {duration(eta)}"
        )
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def clear(self):
        """Erase the bar so that the next line starts clean."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
