"""Options of ``python -m train.lite``: declared once, parsed once into a frozen LiteTrainConfig."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stylecam.errors import UserError
from stylecam.options import parser as make_parser

from .config import GROUPS, RunConfig, check_run, checkpoint_of
from .fields import SHOWN, add_options, again, count, fraction, from_args, option, path, share, weight

HELP = "Distil stylecam-lite from the full model (the teacher) on folders of photos and paintings."
EXAMPLES = """  python -m train.lite --content data/train/content --style data/train/style \\
      --val-content data/val/content data/val/people --val-style data/val/style --out runs/lite --minutes 40
  python -m train.lite ... --out runs/lite --resume runs/lite/checkpoint.pt --minutes 20   (exact continuation)
  python -m train.lite ... --out runs/lite2 --init-from runs/lite/lite.pt                   (warm start, fresh Adam)
  python -m train.lite ... --device cuda --crop 256 --batch 32 --cache-pool 16384 --style-weight 1

The teacher (--teacher, default the shipped assets/decoder.pt) stylizes a pool
of --cache-pool (content crop, style code, alpha) samples once; the student
then learns its outputs: L1 in pixels plus the feature distance at relu1_1,
relu2_1 and relu3_1 of the normalized VGG, optionally the VGG style loss at
alpha = 1, and the stability term (output on c against c plus noise). Style
codes are the training paintings' relu4_1 statistics and random convex blends
of them. A share of samples (--alpha-zero) is drawn at alpha = 0 with the photo
itself as the target, so the student reconstructs. lite.pt and lite.json are
written to OUT every --export-every seconds; install with:
cp OUT/lite.pt OUT/lite.json assets/
"""


D, L, C = GROUPS[1], GROUPS[2], GROUPS[4]


@dataclass(frozen=True)
class LiteTrainConfig(RunConfig):
    # the student's schedule: it is small, so smaller crops and a larger learning rate than the decoder's
    crop: int = again(RunConfig, "crop", 128)
    short_side: int = again(RunConfig, "short_side", 256)
    lr: float = again(RunConfig, "lr", 1e-3)
    lr_decay: float = again(RunConfig, "lr_decay", 1e-4)
    iterations: int = again(RunConfig, "iterations", 100_000)
    checkpoint_every: int = again(RunConfig, "checkpoint_every", 500)
    export_every: float = again(RunConfig, "export_every", 120.0)
    log_every: int = again(RunConfig, "log_every", 25)
    val_every: int = again(RunConfig, "val_every", 500)
    val_pairs: int = again(RunConfig, "val_pairs", 8)
    teacher: Path | None = option(None, "decoder .pt of the full model to distil (default: the shipped one)", path,
                                  group="")
    style_size: int = option(512, f"longer side of paintings for their statistics (default {SHOWN}, as the runtime)",
                             count, group=D)
    cache_pool: int = option(1024, f"teacher samples (crop, style code, alpha) computed once (default {SHOWN})",
                             count, group=D)
    blend_share: float = option(0.5, f"share of pool samples with a blend of 2-3 paintings as style "
                                     f"(default {SHOWN})", share, group=D)
    # the full network's colours drift from the painting's (train/colour.py); the runtime's --palette
    # style corrects them after the fact, and a student can learn from the corrected pictures instead
    teacher_palette: bool = option(False, "give the teacher's outputs their painting's colour mean and covariance "
                                          "(as stylecam --palette style) before the student learns them", group=D)
    # 1 would never show the teacher
    alpha_zero: float = option(0.2, f"share of samples at alpha 0, where the target is the photo (default {SHOWN})",
                               fraction, group=D)
    pixel_weight: float = option(1.0, f"L1 to the target (default {SHOWN})", weight, group=L)
    feature_weight: float = option(0.05, f"VGG relu1_1-3_1 distance to the target (default {SHOWN})", weight, group=L)
    style_weight: float = option(0.0, f"VGG style loss of the output at alpha 1 (default {SHOWN}: off; costs "
                                      "relu4_1 per step)", weight, group=L)
    stability_weight: float = option(100.0, "MSE between outputs on c and on c + noise, sigma in [0.01, 0.02] "
                                            f"(default {SHOWN})", weight, group=L)
    colour_weight: float = option(0.0, "pixel mean + covariance distance of the output at alpha 1 to the painting's "
                                       f"(default {SHOWN}: off)", weight, group=L)


def build_parser():
    p = make_parser("python -m train.lite", HELP, EXAMPLES)
    add_options(p, LiteTrainConfig, GROUPS)
    return p


def config_from_args(args) -> LiteTrainConfig:
    cfg = from_args(LiteTrainConfig, args, checkpoint=checkpoint_of(args))
    if cfg.pixel_weight == cfg.feature_weight == 0:
        raise UserError("--pixel-weight and --feature-weight are both 0: the student would learn nothing")
    check_run(cfg, "lite file")
    if cfg.style_size < 16 or cfg.val_size < 16 or cfg.val_style_size < 16:
        raise UserError("--style-size, --val-size and --val-style-size must be at least 16")
    return cfg
