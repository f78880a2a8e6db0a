"""Training speed probe: images/s of real training steps, fp32 eager vs bf16 autocast + channels_last.

    python -m train.speed --content DIR --style DIR --seconds 20 --json speed.json

Each setting warms up (cuDNN autotuning, allocator) and then times whole
training steps (data, encoder, decoder, backward, Adam) for --seconds, with a
device synchronize before and after. Prints JSON; nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from stylecam.entry import entry_point

from .config import TrainConfig

SETTINGS = {   # name -> (precision, channels_last)
    "fp32": ("fp32", False),
    "bf16": ("bf16", False),
    "bf16_channels_last": ("bf16", True),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def probe(base: TrainConfig, name: str, seconds: float, warmup: int, log) -> dict:
    from .loop import Trainer
    precision, channels_last = SETTINGS[name]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = replace(base, out=Path(tmp), precision=precision, channels_last=channels_last,
                      checkpoint=None, val_content=(), val_style=None)
        trainer = Trainer(cfg, log)
        dev = trainer.device
        for _ in range(warmup):
            trainer.step()
        sync(dev)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        t0, steps = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            trainer.step()
            steps += 1
            if dev.type == "cuda" and steps % 10 == 0:
                sync(dev)                  # keep the host from queueing far past the clock
        sync(dev)
        dt = time.perf_counter() - t0
    result = {"images_per_s": round(steps * cfg.batch / dt, 2), "ms_per_step": round(1000 * dt / steps, 2),
              "steps": steps, "seconds": round(dt, 2)}
    if dev.type == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
    log(f"speed {name}: {result}")
    return result


@entry_point("train.speed")
def main(argv: list[str] | None = None) -> int:
    from stylecam.options import device_name, listed, number, parser
    from stylecam.safeio import check_output_file, write_json
    p = parser("python -m train.speed", "Images/s of training steps, fp32 vs bf16 + channels_last.",
               "  python -m train.speed --content data/train/content --style data/train/style --json speed.json\n")
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--batch", type=number(1, integer=True), default=TrainConfig.batch)
    p.add_argument("--crop", type=number(16, integer=True), default=TrainConfig.crop)
    p.add_argument("--short-side", type=number(16, integer=True), default=TrainConfig.short_side)
    p.add_argument("--seconds", type=number(0, above=True), default=20.0, help="timed seconds per setting (default 20)")
    p.add_argument("--warmup", type=number(0, integer=True), default=15, help="untimed steps first (default 15)")
    p.add_argument("--settings", type=listed(setting), default=",".join(SETTINGS), metavar="S,S,...",
                   help=f"comma-separated: {', '.join(SETTINGS)}")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu or cuda[:N] (default auto)")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = p.parse_args(argv)
    if args.json_out:
        check_output_file(args.json_out, [], args.overwrite)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731  (stdout is the JSON)
    names = args.settings
    base = TrainConfig(content=Path(args.content), style=Path(args.style), out=Path("."),
                       batch=args.batch, crop=args.crop, short_side=args.short_side, device=args.device)
    result = {"batch": args.batch, "crop": args.crop, "short_side": args.short_side,
              "torch": torch.__version__,
              # "fp32" on CUDA runs cuDNN convolutions in TF32 unless this is false
              "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32}
    for name in names:
        result[name] = probe(base, name, args.seconds, args.warmup, log)
    from stylecam.loading import pick_device

    from .skeleton import device_name as describe_device
    result["device"] = describe_device(pick_device(args.device))
    if len(names) > 1:     # each setting against the first (fp32)
        result["speedup"] = {n: round(result[n]["images_per_s"] / result[names[0]]["images_per_s"], 2)
                             for n in names[1:]}
    print(json.dumps(result, indent=2))
    if args.json_out:
        write_json(args.json_out, result, args.overwrite)
    return 0


def setting(name: str) -> str:
    if name not in SETTINGS:
        raise argparse.ArgumentTypeError(f"{name}: not a setting; choose from {', '.join(SETTINGS)}")
    return name


if __name__ == "__main__":
    sys.exit(main())
