"""The distillation loop: a LiteTrainer owns the teacher, the student, the pool and the clock."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import torch
import torch.nn.functional as F

from stylecam.adain import calc_mean_std
from stylecam.graphs import file_hash
from stylecam.errors import UserError
from stylecam.images import list_images
from stylecam.lite import LiteStyleTransfer
from stylecam.loading import (build_lite, decoder_meta, default_decoder_path, lite_state, load_decoder,
                              pick_device, read_lite, save_lite)
from stylecam.model import VGG_LAYERS, Encoder, StyleTransfer
from stylecam.safeio import make_folder, save_torch
from stylecam.vgg import load_encoder

from .checkpoint import read_checkpoint
from .data import load_pool, read_folder
from .config import check_out
from .lite_config import LiteTrainConfig
from .lite_eval import Validation
from .lite_teacher import StyleBank, TeacherPool, cached
from .loop import autocast_dtype, device_name
from .progress import fmt_duration

CHECKPOINT_FORMAT = "stylecam-lite-train-checkpoint-1"
FEATURE_LAYERS = ("conv1_1", "conv2_1", "conv3_1")       # relu1_1 … relu3_1 of the normalized VGG
NOISE_SIGMA = (0.01, 0.02)                               # the stability term's noise on [0, 1] images
TERMS = ("pixel", "feature", "style", "stability")


def vgg_features(vgg: Encoder, x: torch.Tensor, layers=FEATURE_LAYERS) -> list[torch.Tensor]:
    """Activations after the ReLUs of ``layers``, stopping at the last one (relu3_1 costs a quarter
    of relu4_1's forward pass)."""
    feats = []
    for layer in VGG_LAYERS:
        if layer == "pool":
            x = F.max_pool2d(x, 2, 2)
            continue
        x = F.relu(vgg.convs[layer[0]](x))
        if layer[0] in layers:
            feats.append(x)
            if len(feats) == len(layers):
                break
    return feats


@dataclass
class Terms:
    total: torch.Tensor                  # scalar with the gradient
    parts: torch.Tensor                  # (4,) detached: pixel, feature, style, stability (unweighted)


class LiteTrainer:
    def __init__(self, cfg: LiteTrainConfig, log=print):
        self.cfg, self.log = cfg, log
        self.device = pick_device(cfg.device)
        check_out(cfg, "lite.pt")
        teacher_path = cfg.teacher or default_decoder_path()
        decoder = load_decoder(teacher_path)                    # its error first: the likelier one
        resume = self._load_checkpoint() if cfg.resume else None
        source = cfg.resume or cfg.init_from
        lite = read_lite(source) if source else None            # format, version, architecture
        make_folder(cfg.out)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.amp_dtype = autocast_dtype(cfg.precision, self.device)

        vgg = load_encoder(cfg.weights).to(self.device)
        self.teacher = StyleTransfer(vgg, decoder).to(self.device).eval()
        self.teacher_meta = {"path": str(teacher_path), "sha256": file_hash(teacher_path),
                             **{k: decoder_meta(teacher_path).get(k) for k in ("iterations", "trained_on", "date")}}
        torch.manual_seed(cfg.seed)                             # student initialization
        self.student = self._student(vgg, lite)
        params = [p for p in self.student.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr)
        self.generator = torch.Generator(self.device)
        self.generator.manual_seed(cfg.seed + 1)
        self.iteration, self.image_steps, self.prior_seconds = 0, 0, 0.0
        if resume:
            self._restore(resume)

        self.content = load_pool(cfg.content, "--content", cfg.short_side, cfg.crop, self.device, log)
        self.bank, self.pool = self._bank_and_pool(vgg)
        self.val = (Validation(cfg.val_content, cfg.val_style, cfg.val_size, cfg.val_style_size,
                               cfg.val_pairs, log) if cfg.val_content else None)
        self.last_loss: dict = {}
        self.last_val: dict = {}
        self.history: list[dict] = []

    # --- setup ---------------------------------------------------------------------------------------
    def _load_checkpoint(self) -> dict:
        return read_checkpoint(self.cfg.resume, CHECKPOINT_FORMAT, "a train.lite checkpoint", "weights",
                               "a lite model: use --init-from")

    def _student(self, vgg: Encoder, lite) -> LiteStyleTransfer:
        # one VGG for the teacher, the student's style statistics and the losses
        if lite:
            student = build_lite(self.cfg.resume or self.cfg.init_from, *lite, vgg).to(self.device)
        else:
            student = LiteStyleTransfer(vgg).to(self.device)
        student.encoder.requires_grad_(True)
        student.decoder.requires_grad_(True)
        return student.train()

    def _restore(self, state: dict) -> None:
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError):
            raise UserError("the checkpoint's optimizer state does not match this student") from None
        if state.get("rng_device") == str(self.generator.device):
            self.generator.set_state(state["rng"])
        else:
            self.log(f"checkpoint RNG was on {state.get('rng_device')}, training on {self.generator.device}: reseeding")
            self.generator.manual_seed(int(state["iteration"]) + 1)
        self.iteration, self.image_steps = int(state["iteration"]), int(state["image_steps"])
        self.prior_seconds = float(state.get("train_seconds", 0.0))
        self.log(f"resumed {self.cfg.resume} at iteration {self.iteration}")

    def _bank_and_pool(self, vgg: Encoder) -> tuple[StyleBank, TeacherPool]:
        cfg, log = self.cfg, self.log
        bank_key = {"encoder": vgg.version, "style": str(cfg.style), "style_size": cfg.style_size,
                    "files": [p.name for p in list_images(cfg.style)]}
        bank = cached(cfg.out / "style_bank.pt", bank_key, lambda: StyleBank.from_images(
            vgg, read_folder(cfg.style, "--style", log), cfg.style_size, self.device, log), StyleBank, self.device, log)
        pool_key = {"bank": bank_key, "teacher": self.teacher_meta["sha256"], "content": str(cfg.content),
                    "content_images": len(self.content),
                    **{k: getattr(cfg, k) for k in ("crop", "short_side", "scale_jitter", "cache_pool",
                                                    "blend_share", "seed")}}

        def build() -> TeacherPool:
            rng = torch.Generator(self.device)      # its own: a rebuilt pool is the same pool
            rng.manual_seed(cfg.seed + 7919)
            with self.autocast():
                return TeacherPool.build(self.teacher, self.content, bank, cfg.cache_pool, cfg.crop,
                                         cfg.scale_jitter, cfg.blend_share, rng, log)
        return bank, cached(cfg.out / "teacher_pool.pt", pool_key, build, TeacherPool, self.device, log)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # --- one iteration -------------------------------------------------------------------------------
    def lr_at(self, iteration: int) -> float:
        return self.cfg.lr / (1.0 + self.cfg.lr_decay * iteration)

    def losses(self, content: torch.Tensor, target: torch.Tensor, alpha: torch.Tensor, style: list) -> Terms:
        """content, target: (B, 3, S, S) [0, 1]; alpha: (B,); style: per VGG layer (mean, std) (B, C)."""
        cfg, s, vgg = self.cfg, self.student, self.teacher.encoder
        mean, std = style[-1]

        def run(x):
            feat = s.encode(x)
            return s.decode(feat, *calc_mean_std(feat), mean, std, alpha)         # not clamped: gradients
        out = run(content)
        zero = torch.zeros((), device=content.device)
        pixel = F.l1_loss(out.float(), target)
        feature = zero
        if cfg.feature_weight:
            with torch.no_grad():
                want = vgg_features(vgg, target)
            got = vgg_features(vgg, out)
            feature = sum(F.mse_loss(g.float(), w.float()) for g, w in zip(got, want))
        style_loss = zero
        full = alpha == 1
        if cfg.style_weight and full.any():
            feats = vgg(out[full], all_layers=True)
            style_loss = sum(F.mse_loss(calc_mean_std(f)[0], m[full]) + F.mse_loss(calc_mean_std(f)[1], sd[full])
                             for f, (m, sd) in zip(feats, style))
        stability = zero
        if cfg.stability_weight:
            sigma = NOISE_SIGMA[0] + (NOISE_SIGMA[1] - NOISE_SIGMA[0]) * torch.rand(
                len(content), 1, 1, 1, generator=self.generator, device=content.device)
            noise = torch.randn(content.shape, generator=self.generator, device=content.device) * sigma
            # MSE: the measure the flicker report's warping error takes
            stability = F.mse_loss(run(content + noise).float(), out.float())
        total = (cfg.pixel_weight * pixel + cfg.feature_weight * feature + cfg.style_weight * style_loss
                 + cfg.stability_weight * stability)
        return Terms(total, torch.stack([pixel, feature, style_loss, stability]).detach().float())

    def step(self) -> Terms:
        cfg, dev = self.cfg, self.device
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.iteration)
        idx = torch.randint(len(self.pool), (cfg.batch,), generator=self.generator, device=dev)
        content, target, alpha, style = self.pool.batch(idx, self.bank)
        # α = 0: the student must give the photo back, whatever the style code
        zero = torch.rand(cfg.batch, generator=self.generator, device=dev) < cfg.alpha_zero
        alpha[zero] = 0.0
        target[zero] = content[zero]
        with self.autocast():
            terms = self.losses(content, target, alpha, style)
        self.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        self.optimizer.step()
        self.iteration += 1
        self.image_steps += cfg.batch
        return terms

    # --- the loop ------------------------------------------------------------------------------------
    def run(self) -> dict:
        cfg, log = self.cfg, self.log
        log(f"distilling on {device_name(self.device)} ({self.device}), precision {self.amp_dtype or 'fp32'}, "
            f"batch {cfg.batch}, crop {cfg.crop}, pool {len(self.pool)} teacher samples, "
            f"{len(self.content)} content / {len(self.bank)} style images; from iteration {self.iteration}")
        self.clock = Clock(self.iteration, self.image_steps)
        acc, acc_n = torch.zeros(len(TERMS), device=self.device), 0
        next_export = time.monotonic() + cfg.export_every
        try:
            while self.iteration < cfg.iterations:
                terms = self.step()
                acc += terms.parts
                acc_n += 1
                it = self.iteration
                done = it >= cfg.iterations or (bool(cfg.minutes) and self.clock.train_seconds() >= cfg.minutes * 60)
                if it % cfg.log_every == 0 or done:
                    self.report((acc / acc_n).tolist())
                    acc.zero_()
                    acc_n = 0
                with self.clock.paused():
                    if self.val and (it % cfg.val_every == 0 or done):
                        self.validate()
                    if cfg.checkpoint and (it % cfg.checkpoint_every == 0 or done):
                        self.save_checkpoint()
                    if time.monotonic() >= next_export or done:
                        self.export()
                        next_export = time.monotonic() + cfg.export_every
                if done:
                    break
        except KeyboardInterrupt:
            log("interrupted: writing the student as it is")
            self.export()
            raise
        return {**self.meta(), "history": self.history}

    def report(self, means: list[float]) -> None:
        cfg, it = self.cfg, self.iteration
        weights = (cfg.pixel_weight, cfg.feature_weight, cfg.style_weight, cfg.stability_weight)
        loss = sum(w * m for w, m in zip(weights, means))
        if not math.isfinite(loss):
            raise UserError(f"the loss is not finite at iteration {it}: stopping; the student last written "
                            f"to {cfg.out} (if any) is kept")
        rate, mean_rate = self.clock.rate(self.image_steps), self.clock.mean_rate(self.image_steps)
        secs = self.clock.train_seconds()
        its = (it - self.clock.start_iteration) / max(secs, 1e-9)
        eta = (cfg.iterations - it) / max(its, 1e-9)
        if cfg.minutes:
            eta = min(eta, cfg.minutes * 60 - secs)
        self.last_loss = {"iteration": it, "loss": loss, **dict(zip(TERMS, means))}
        self.history.append({**self.last_loss, "lr": self.lr_at(it), "images_per_s": rate,
                             "images_per_s_mean": mean_rate, "seconds": secs})
        parts = "  ".join(f"{t} {m:.4g}" for t, m, w in zip(TERMS, means, weights) if w)
        self.log(f"it {it}/{cfg.iterations}  loss {loss:.4f}  {parts}  lr {self.lr_at(it):.2e}  "
                 f"{rate:.1f} img/s  elapsed {fmt_duration(secs)}  ETA {fmt_duration(eta)}")

    # --- outputs -------------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict:
        self.student.eval()
        results = self.val.run(self.student, self.teacher, self.device, self.cfg.out, self.iteration,
                               self.cfg.sheet_cell)
        self.student.train()
        self.last_val = {"iteration": self.iteration, "sets": results}
        for label, m in results.items():
            self.log(f"val {label} @ {self.iteration}: style {m['student_style_loss']:.3f} "
                     f"(teacher {m['teacher_style_loss']:.3f}, ratio {m['style_ratio']:.2f})  "
                     f"content {m['student_content_loss']:.3f} (teacher {m['teacher_content_loss']:.3f})  "
                     f"SSIM a=1 {m['student_ssim_alpha1']:.3f} (teacher {m['teacher_ssim_alpha1']:.3f})  "
                     f"a=0 {m['student_ssim_alpha0']:.3f} (teacher {m['teacher_ssim_alpha0']:.3f})")
        return self.last_val

    def save_checkpoint(self) -> None:
        state = {"format": CHECKPOINT_FORMAT, "lite": lite_state(self.student, half=False),
                 "optimizer": self.optimizer.state_dict(), "iteration": self.iteration,
                 "image_steps": self.image_steps,
                 "train_seconds": self.prior_seconds + self.clock.train_seconds(),
                 "rng": self.generator.get_state(), "rng_device": str(self.generator.device),
                 "config": self.cfg.as_meta()}
        make_folder(self.cfg.checkpoint.parent)
        save_torch(state, self.cfg.checkpoint)

    def meta(self) -> dict:
        cfg = self.cfg
        seconds = self.prior_seconds + self.clock.train_seconds()
        params = sum(p.numel() for n, p in self.student.named_parameters() if not n.startswith("style_encoder."))
        return {
            "model": "lite",
            "iterations": self.iteration,
            "image_steps": self.image_steps,
            "trained_on": self.device.type,
            "device": device_name(self.device),
            "precision": str(self.amp_dtype or "fp32").replace("torch.", ""),
            "images_per_s": round(self.clock.mean_rate(self.image_steps), 2),
            "minutes": round(seconds / 60, 2),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "parameters": params,
            "config": {**dataclasses.asdict(self.student.config), "channels": list(self.student.config.channels)},
            "teacher": self.teacher_meta,
            "data": {"content": str(cfg.content), "style": str(cfg.style), "content_images": len(self.content),
                     "style_images": len(self.bank), "teacher_pool": len(self.pool),
                     "val_content": [str(v) for v in cfg.val_content],
                     "val_style": str(cfg.val_style) if cfg.val_style else None},
            "recipe": {k: getattr(cfg, k) for k in ("batch", "crop", "short_side", "scale_jitter", "style_size",
                                                    "blend_share", "alpha_zero", "pixel_weight", "feature_weight",
                                                    "style_weight", "stability_weight", "lr", "lr_decay", "seed")},
            "init_from": str(cfg.init_from) if cfg.init_from else None,
            "resumed_from": str(cfg.resume) if cfg.resume else None,
            "loss": self.last_loss,
            "val": self.last_val,
            "encoder": self.teacher.encoder.version,
            "torch": torch.__version__,
        }

    def export(self) -> None:
        save_lite(self.student, self.cfg.out / "lite.pt", self.meta())


class Clock:
    """Training seconds (validation and file writes paused out) and images/s."""

    def __init__(self, start_iteration: int, start_images: int):
        self.start_iteration, self.start_images = start_iteration, start_images
        self.t0 = time.monotonic()
        self.paused_s = 0.0
        self.last = (0.0, start_images)          # (training seconds, images) at the previous rate()

    def train_seconds(self) -> float:
        return time.monotonic() - self.t0 - self.paused_s

    @contextlib.contextmanager
    def paused(self):
        t = time.monotonic()
        try:
            yield
        finally:
            self.paused_s += time.monotonic() - t

    def rate(self, images: int) -> float:
        """Images per training second since the previous call."""
        now = self.train_seconds()
        clock, seen = self.last
        self.last = (now, images)
        return (images - seen) / max(now - clock, 1e-9)

    def mean_rate(self, images: int) -> float:
        return (images - self.start_images) / max(self.train_seconds(), 1e-9)
