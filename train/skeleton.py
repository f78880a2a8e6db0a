"""The training skeleton both trainers share: the loop, the learning-rate schedule, autocast,
the clock and progress lines, checkpoints, interrupts and the JSON written beside the network.

A trainer (``loop.Trainer``: the decoder; ``lite_loop.LiteTrainer``: the student) sets up
its networks, optimizer and data, then provides the hooks below; ``Run.run`` does the rest.
"""
from __future__ import annotations

import contextlib
import math
import platform
import time
from datetime import datetime, timezone

import torch

from stylecam.errors import UserError

from . import distributed
from .checkpoint import save_checkpoint
from .config import RunConfig
from .progress import Progress


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return {"fp32": None, "bf16": torch.bfloat16}[precision]   # fp16 would need loss scaling


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} CPU, {torch.get_num_threads()} threads"


class Run:
    """What a trainer sets before ``run()``: cfg, log, info (``distributed.DistInfo``), device,
    amp_dtype, optimizer (param groups may carry an ``lr_scale``), generator, iteration,
    image_steps, prior_seconds, last_val; and its hooks:

    - ``network`` (its name in messages), ``out_file`` (what it writes in OUT),
      ``checkpoint_format`` and ``checkpoint_key``: the checkpoint's format and its weights' key;
    - ``loss()`` -> (total with the gradient, detached parts (T,), present per term);
    - ``term_weights()`` -> the weight of each part; ``terms(means)`` -> (dict for the history,
      text for the progress line);
    - ``validate()``, ``checkpoint_weights()``, ``write(meta)`` and ``meta_extra(progress)``;
    - ``recipe_keys``: the config fields that make the recipe in the JSON.
    """
    network = "network"
    out_file = "network.pt"
    checkpoint_format = ""
    checkpoint_key = "weights"
    recipe_keys: tuple[str, ...] = ()
    cfg: RunConfig

    # --- one iteration -----------------------------------------------------------------------------
    def lr_at(self, iteration: int) -> float:
        return self.cfg.lr / (1.0 + self.cfg.lr_decay * iteration)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def step(self) -> tuple[torch.Tensor, list[bool]]:
        """One optimizer step on a fresh batch -> the detached parts and which were present."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.iteration) * group.get("lr_scale", 1.0)
        with self.autocast():
            total, parts, present = self.loss()
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.iteration += 1
        self.image_steps += self.cfg.batch * self.info.world
        return parts, present

    # --- the loop ----------------------------------------------------------------------------------
    def run(self) -> dict:
        cfg, log = self.cfg, self.log
        progress = Progress(cfg.iterations, cfg.minutes, self.iteration, self.image_steps, log)
        self.progress = progress
        weights = self.term_weights()
        acc = torch.zeros(len(weights), device=self.device)        # sums of the parts since the last line
        acc_n = [0] * len(weights)                                  # batches that had each part
        next_export = time.monotonic() + cfg.export_every
        try:
            while self.iteration < cfg.iterations:
                parts, present = self.step()
                acc += parts
                acc_n = [n + p for n, p in zip(acc_n, present)]
                it = self.iteration
                at_log = it % cfg.log_every == 0
                # every process stops together: they agree at the log points (each step, alone)
                stop = (distributed.any_true(progress.over_time(), self.info, self.device)
                        if (at_log or not self.info.active) else False)
                done = stop or it >= cfg.iterations
                if at_log or done:
                    self.report(progress, [s / n if n else None for s, n in zip(acc.tolist(), acc_n)], weights)
                    acc.zero_()
                    acc_n = [0] * len(weights)
                if not self.info.main:
                    if done:
                        break
                    continue
                with progress.paused():
                    if self.has_val() and (it % cfg.val_every == 0 or done):
                        self.validate()
                    if cfg.checkpoint and (it % cfg.checkpoint_every == 0 or done):
                        self.save_checkpoint()
                    if time.monotonic() >= next_export or done:
                        self.export()
                        next_export = time.monotonic() + cfg.export_every
                if done:
                    break
        except KeyboardInterrupt:
            if self.info.main:
                log(f"interrupted: writing the {self.network} as it is")
                self.export()
            raise
        return {**self.meta(), "history": progress.history}

    def report(self, progress: Progress, means: list[float | None], weights: list[float]) -> None:
        loss = sum(w * m for w, m in zip(weights, means) if w and m is not None)
        terms, text = self.terms(means)
        entry = progress.report(self.iteration, self.image_steps, loss, terms, text, self.lr_at(self.iteration),
                                self.info.main)
        self.last_loss = {k: entry[k] for k in ("iteration", "loss", *terms)}
        if not math.isfinite(loss):
            raise UserError(f"the loss is not finite at iteration {self.iteration}: stopping; the {self.network} "
                            f"last written to {self.cfg.out} (if any) is kept")

    def has_val(self) -> bool:
        return bool(self.cfg.val_content)

    # --- outputs -----------------------------------------------------------------------------------
    def train_seconds(self) -> float:
        return self.prior_seconds + self.progress.train_seconds()

    def save_checkpoint(self) -> None:
        save_checkpoint(self.cfg.checkpoint, self.checkpoint_format, self.checkpoint_key, self.checkpoint_weights(),
                        self.optimizer, self.iteration, self.image_steps, self.train_seconds(), self.generator,
                        self.cfg.as_meta())

    def meta(self) -> dict:
        """The JSON beside the network: what both trainers write, then the trainer's own."""
        cfg = self.cfg
        return {
            "iterations": self.iteration,
            "image_steps": self.image_steps,
            "trained_on": self.device.type,
            "device": device_name(self.device),
            "precision": str(self.amp_dtype or "fp32").replace("torch.", ""),
            "images_per_s": round(self.progress.images_per_s(), 2),
            "minutes": round(self.train_seconds() / 60, 2),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "recipe": {k: getattr(cfg, k) for k in self.recipe_keys},
            "resumed_from": str(cfg.resume) if cfg.resume else None,
            **self.meta_extra(),
            "loss": self.last_loss,
            "val": self.last_val,
            "torch": torch.__version__,
        }

    def export(self) -> None:
        self.write(self.meta())
