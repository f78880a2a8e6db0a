"""Progress lines: iteration, losses by term, learning rate, images/s, ETA.

Time spent validating or writing files is paused out of the training clock,
so images/s and the --minutes budget count training steps only.
"""
from __future__ import annotations

import contextlib
import time

from .config import TrainConfig
from .losses import LAYERS, TERMS


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    def __init__(self, cfg: TrainConfig, start_iteration: int, start_images: int, log=print):
        self.cfg, self.log = cfg, log
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

    def report(self, iteration: int, images: int, means: list[float], lr: float, weights: list[float],
               show: bool) -> dict:
        """means: per loss term (losses.TERMS), averaged since the last report; None: no sample had it."""
        now, secs = time.monotonic(), self.train_seconds()
        clock, imgs = self.last
        interval = max(now - clock, 1e-9)
        rate = (images - imgs) / interval
        mean_rate = (images - self.start_images) / max(secs, 1e-9)
        self.last = (now, images)
        total = sum(w * m for w, m in zip(weights, means) if w and m is not None)
        terms = dict(zip(TERMS, means))
        style = [terms[f"style_{layer}"] for layer in LAYERS]
        its_per_s = (iteration - self.start_iteration) / max(secs, 1e-9)
        eta = (self.cfg.iterations - iteration) / max(its_per_s, 1e-9)
        if self.cfg.minutes:
            eta = min(eta, self.cfg.minutes * 60 - secs)
        entry = {"iteration": iteration, "loss": total, "content": terms["content"],
                 "style": dict(zip(LAYERS, style)),
                 **{k: terms[k] for k in ("identity_pixel", "identity_feature", "stability", "colour")},
                 "lr": lr, "images_per_s": rate, "images_per_s_mean": mean_rate, "seconds": secs}
        self.history.append(entry)
        if show:
            layers = " ".join(fmt(v) for v in style)
            extra = f"  identity px {fmt(terms['identity_pixel'])} feat {fmt(terms['identity_feature'])}"
            if terms["stability"] is not None:
                extra += f"  stability {fmt(terms['stability'], 5)}"
            if terms["colour"] is not None:
                extra += f"  colour {fmt(terms['colour'], 5)}"
            self.log(f"it {iteration}/{self.cfg.iterations}  loss {total:.4f}  content {fmt(terms['content'])}  "
                     f"style {fmt(sum(style) if None not in style else None)} [{layers}]{extra}  lr {lr:.2e}  {rate:.1f} img/s  "
                     f"elapsed {fmt_duration(secs)}  ETA {fmt_duration(eta)}")
        return {k: entry[k] for k in ("iteration", "loss", "content", "style", "identity_pixel",
                                      "identity_feature", "stability", "colour")}
