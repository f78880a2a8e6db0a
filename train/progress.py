"""Progress lines: iteration, losses by term, learning rate, images/s, ETA.

Time spent validating or writing files is paused out of the training clock,
so images/s and the --minutes budget count training steps only.
"""
from __future__ import annotations

import contextlib
import time

from .config import TrainConfig

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


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
        self.last = (self.t0, start_images)            # (clock, images) at the previous report
        self.history: list[dict] = []

    def train_seconds(self) -> float:
        return time.monotonic() - self.t0 - self.paused_s

    @contextlib.contextmanager
    def paused(self):
        t = time.monotonic()
        try:
            yield
        finally:
            self.paused_s += time.monotonic() - t

    def images_per_s(self) -> float:
        return 0.0 if not self.history else self.history[-1]["images_per_s_mean"]

    def report(self, iteration: int, images: int, means: list[float], lr: float, style_weight: float,
               show: bool) -> dict:
        """means: content, then style per layer (averaged since the last report)."""
        now, secs = time.monotonic(), self.train_seconds()
        clock, imgs = self.last
        interval = max(now - clock, 1e-9)
        rate = (images - imgs) / interval
        mean_rate = (images - self.start_images) / max(secs, 1e-9)
        self.last = (now, images)
        content, style = means[0], means[1:]
        total = content + style_weight * sum(style)
        its_per_s = (iteration - self.start_iteration) / max(secs, 1e-9)
        eta = (self.cfg.iterations - iteration) / max(its_per_s, 1e-9)
        if self.cfg.minutes:
            eta = min(eta, self.cfg.minutes * 60 - secs)
        entry = {"iteration": iteration, "loss": total, "content": content,
                 "style": dict(zip(LAYERS, style)), "lr": lr, "images_per_s": rate,
                 "images_per_s_mean": mean_rate, "seconds": secs}
        self.history.append(entry)
        if show:
            layers = " ".join(f"{v:.4f}" for v in style)
            self.log(f"it {iteration}/{self.cfg.iterations}  loss {total:.4f}  content {content:.4f}  "
                     f"style {sum(style):.4f} [{layers}]  lr {lr:.2e}  {rate:.1f} img/s  "
                     f"elapsed {fmt_duration(secs)}  ETA {fmt_duration(eta)}")
        return {k: entry[k] for k in ("iteration", "loss", "content", "style")}
