"""Progress lines: iteration, losses by term, learning rate, images/s, ETA.

Time spent validating or writing files is paused out of the training clock,
so images/s and the --minutes budget count training steps only.
"""
from __future__ import annotations

import contextlib
import time


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    def __init__(self, iterations: int, minutes: float, start_iteration: int, start_images: int, log=print):
        self.iterations, self.minutes, self.log = iterations, minutes, log
        self.start_iteration, self.start_images = start_iteration, start_images
        self.t0 = time.monotonic()
        self.paused_s = 0.0
        self.pause_start: float | None = None       # inside paused(): exports write the time so far
        self.last = (self.t0, start_images)            # (clock, images) at the previous report
        self.history: list[dict] = []

    def train_seconds(self) -> float:
        now = time.monotonic()
        pausing = now - self.pause_start if self.pause_start is not None else 0.0
        return now - self.t0 - self.paused_s - pausing

    def over_time(self) -> bool:
        return bool(self.minutes) and self.train_seconds() >= self.minutes * 60

    @contextlib.contextmanager
    def paused(self):
        self.pause_start = time.monotonic()
        try:
            yield
        finally:
            self.paused_s += time.monotonic() - self.pause_start
            self.pause_start = None

    def images_per_s(self) -> float:
        return 0.0 if not self.history else self.history[-1]["images_per_s_mean"]

    def report(self, iteration: int, images: int, loss: float, terms: dict, text: str, lr: float,
               show: bool) -> dict:
        """terms: the loss by term (as the history keeps it); text: the same for the progress line.
        -> the history entry."""
        now, secs = time.monotonic(), self.train_seconds()
        clock, imgs = self.last
        rate = (images - imgs) / max(now - clock, 1e-9)
        mean_rate = (images - self.start_images) / max(secs, 1e-9)
        self.last = (now, images)
        its_per_s = (iteration - self.start_iteration) / max(secs, 1e-9)
        eta = (self.iterations - iteration) / max(its_per_s, 1e-9)
        if self.minutes:
            eta = min(eta, self.minutes * 60 - secs)
        entry = {"iteration": iteration, "loss": loss, **terms,
                 "lr": lr, "images_per_s": rate, "images_per_s_mean": mean_rate, "seconds": secs}
        self.history.append(entry)
        if show:
            self.log(f"it {iteration}/{self.iterations}  loss {loss:.4f}  {text}  lr {lr:.2e}  {rate:.1f} img/s  "
                     f"elapsed {fmt_duration(secs)}  ETA {fmt_duration(eta)}")
        return entry
