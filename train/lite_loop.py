"""The student's trainer: a LiteTrainer owns the teacher, the student and the pool; the loop,
clock, checkpoints and JSON are the skeleton's (``train.skeleton``)."""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from stylecam.adain import calc_mean_std
from stylecam.graphs import file_hash
from stylecam.images import list_images
from stylecam.lite import LiteStyleTransfer
from stylecam.loading import (build_lite, decoder_meta, default_decoder_path, lite_state, load_decoder,
                              pick_device, read_lite, save_lite)
from stylecam.model import VGG_LAYERS, Encoder, StyleTransfer
from stylecam.safeio import make_folder
from stylecam.vgg import load_encoder

from .checkpoint import read_checkpoint, restore
from .colour import Moments, moment_loss
from .config import check_out
from .data import load_pool, read_folder
from .distributed import DistInfo
from .lite_config import LiteTrainConfig
from .lite_eval import Validation
from .lite_teacher import StyleBank, TeacherPool, cached
from .skeleton import Run, autocast_dtype, device_name

CHECKPOINT_FORMAT = "stylecam-lite-train-checkpoint-1"
FEATURE_LAYERS = ("conv1_1", "conv2_1", "conv3_1")       # relu1_1 … relu3_1 of the normalized VGG
STYLE_LAYERS = (*FEATURE_LAYERS, "conv4_1")              # relu1_1 … relu4_1
NOISE_SIGMA = (0.01, 0.02)                               # the stability term's noise on [0, 1] images
TERMS = ("pixel", "feature", "style", "stability", "colour")


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


class LiteTrainer(Run):
    network, out_file = "student", "lite.pt"
    checkpoint_format, checkpoint_key = CHECKPOINT_FORMAT, "lite"
    recipe_keys = ("batch", "crop", "short_side", "scale_jitter", "style_size", "blend_share", "alpha_zero",
                   "pixel_weight", "feature_weight", "style_weight", "stability_weight", "colour_weight", "lr",
                   "lr_decay", "seed", "teacher_palette")

    def __init__(self, cfg: LiteTrainConfig, log=print):
        self.cfg, self.log = cfg, log
        self.info, self.device = DistInfo(), pick_device(cfg.device)
        check_out(cfg, self.out_file)
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
            self.iteration, self.image_steps, self.prior_seconds = restore(
                resume, self.optimizer, self.generator, "the checkpoint's optimizer state does not match this student",
                log)
            log(f"resumed {cfg.resume} at iteration {self.iteration}")

        self.content = load_pool(cfg.content, "--content", cfg.short_side, cfg.crop, self.device, log)
        self.bank, self.pool = self._bank_and_pool(vgg)
        self.val = (Validation(cfg.val_content, cfg.val_style, cfg.val_size, cfg.val_style_size,
                               cfg.val_pairs, log) if cfg.val_content else None)
        self.last_loss: dict = {}
        self.last_val: dict = {}

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

    def _bank_and_pool(self, vgg: Encoder) -> tuple[StyleBank, TeacherPool]:
        cfg, log = self.cfg, self.log
        bank_key = {"encoder": vgg.version, "pixels": True, "style": str(cfg.style), "style_size": cfg.style_size,
                    "files": [p.name for p in list_images(cfg.style)]}
        bank = cached(cfg.out / "style_bank.pt", bank_key, lambda: StyleBank.from_images(
            vgg, read_folder(cfg.style, "--style", log), cfg.style_size, self.device, log), StyleBank, self.device, log)
        pool_key = {"bank": bank_key, "teacher": self.teacher_meta["sha256"], "content": str(cfg.content),
                    "content_images": len(self.content),
                    **{k: getattr(cfg, k) for k in ("crop", "short_side", "scale_jitter", "cache_pool",
                                                    "blend_share", "seed", "teacher_palette")}}

        def build() -> TeacherPool:
            rng = torch.Generator(self.device)      # its own: a rebuilt pool is the same pool
            rng.manual_seed(cfg.seed + 7919)
            with self.autocast():
                return TeacherPool.build(self.teacher, self.content, bank, cfg.cache_pool, cfg.crop,
                                         cfg.scale_jitter, cfg.blend_share, rng, log,
                                         palette=cfg.teacher_palette)
        return bank, cached(cfg.out / "teacher_pool.pt", pool_key, build, TeacherPool, self.device, log)

    # --- one iteration -------------------------------------------------------------------------------
    def losses(self, content: torch.Tensor, target: torch.Tensor, alpha: torch.Tensor, style: list,
               pixels: Moments) -> tuple[torch.Tensor, torch.Tensor]:
        """content, target: (B, 3, S, S) [0, 1]; alpha: (B,); style: per VGG layer (mean, std) (B, C);
        pixels: the paintings' pixel moments. The style and colour terms are on the student's own
        output at α = 1 (not only its distance to the teacher's, which averages textures away)."""
        cfg, s, vgg = self.cfg, self.student, self.teacher.encoder
        mean, std = style[-1]

        def run(x):
            feat = s.encode(x)
            return s.decode(feat, *calc_mean_std(feat), mean, std, alpha)         # not clamped: gradients
        out = run(content)
        zero = torch.zeros((), device=content.device)
        pixel = F.l1_loss(out.float(), target)
        full = alpha == 1
        styled = bool(cfg.style_weight) and bool(full.any())
        # one VGG pass of the output for both terms, as deep as they need
        got = vgg_features(vgg, out, STYLE_LAYERS if styled else FEATURE_LAYERS) if cfg.feature_weight or styled else []
        feature = zero
        if cfg.feature_weight:
            with torch.no_grad():
                want = vgg_features(vgg, target)
            feature = sum(F.mse_loss(g.float(), w.float()) for g, w in zip(got, want))
        style_loss = zero
        if styled:
            style_loss = sum(F.mse_loss(calc_mean_std(f[full])[0], m[full]) + F.mse_loss(calc_mean_std(f[full])[1], sd[full])
                             for f, (m, sd) in zip(got, style))
        colour = zero
        if cfg.colour_weight and full.any():
            colour = moment_loss(out[full], tuple(m[full] for m in pixels))
        stability = zero
        if cfg.stability_weight:
            sigma = NOISE_SIGMA[0] + (NOISE_SIGMA[1] - NOISE_SIGMA[0]) * torch.rand(
                len(content), 1, 1, 1, generator=self.generator, device=content.device)
            noise = torch.randn(content.shape, generator=self.generator, device=content.device) * sigma
            # MSE: the measure the flicker report's warping error takes
            stability = F.mse_loss(run(content + noise).float(), out.float())
        total = (cfg.pixel_weight * pixel + cfg.feature_weight * feature + cfg.style_weight * style_loss
                 + cfg.stability_weight * stability + cfg.colour_weight * colour)
        return total, torch.stack([pixel, feature, style_loss, stability, colour]).detach().float()

    def loss(self):
        cfg, dev = self.cfg, self.device
        idx = torch.randint(len(self.pool), (cfg.batch,), generator=self.generator, device=dev)
        content, target, alpha, style, pixels = self.pool.batch(idx, self.bank)
        # α = 0: the student must give the photo back, whatever the style code
        zero = torch.rand(cfg.batch, generator=self.generator, device=dev) < cfg.alpha_zero
        alpha[zero] = 0.0
        target[zero] = content[zero]
        total, parts = self.losses(content, target, alpha, style, pixels)
        return total, parts, [True] * len(TERMS)

    def term_weights(self) -> list[float]:
        cfg = self.cfg
        return [cfg.pixel_weight, cfg.feature_weight, cfg.style_weight, cfg.stability_weight, cfg.colour_weight]

    def terms(self, means: list[float]) -> tuple[dict, str]:
        text = "  ".join(f"{t} {m:.4g}" for t, m, w in zip(TERMS, means, self.term_weights()) if w)
        return dict(zip(TERMS, means)), text

    def has_val(self) -> bool:
        return self.val is not None

    def run(self) -> dict:
        cfg = self.cfg
        self.log(f"distilling on {device_name(self.device)} ({self.device}), precision {self.amp_dtype or 'fp32'}, "
                 f"batch {cfg.batch}, crop {cfg.crop}, pool {len(self.pool)} teacher samples, "
                 f"{len(self.content)} content / {len(self.bank)} style images; from iteration {self.iteration}")
        return super().run()

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
                     f"colour ratio {m['student_colour_ratio']:.3f} (teacher {m['teacher_colour_ratio']:.3f})  "
                     f"relu1_1 ratio {m['student_relu1_1_ratio']:.3f} (teacher {m['teacher_relu1_1_ratio']:.3f})  "
                     f"SSIM a=1 {m['student_ssim_alpha1']:.3f} (teacher {m['teacher_ssim_alpha1']:.3f})  "
                     f"a=0 {m['student_ssim_alpha0']:.3f} (teacher {m['teacher_ssim_alpha0']:.3f})")
        return self.last_val

    def checkpoint_weights(self) -> dict:
        return lite_state(self.student, half=False)

    def meta_extra(self) -> dict:
        cfg = self.cfg
        return {
            "model": "lite",
            "parameters": sum(p.numel() for n, p in self.student.named_parameters()
                              if not n.startswith("style_encoder.")),
            "config": {**dataclasses.asdict(self.student.config), "channels": list(self.student.config.channels)},
            "teacher": self.teacher_meta,
            "data": {"content": str(cfg.content), "style": str(cfg.style), "content_images": len(self.content),
                     "style_images": len(self.bank), "teacher_pool": len(self.pool),
                     "val_content": [str(v) for v in cfg.val_content],
                     "val_style": str(cfg.val_style) if cfg.val_style else None},
            "init_from": str(cfg.init_from) if cfg.init_from else None,
            "encoder": self.teacher.encoder.version,
        }

    def write(self, meta: dict) -> None:
        save_lite(self.student, self.cfg.out / self.out_file, meta)
