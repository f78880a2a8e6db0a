"""python -m export.parity: FP16 ONNX graph vs FP32 graph vs PyTorch on real photos (ONNX Runtime, CPU).

Each photo is scaled to cover --frame-size and centre-cropped; the style is a
built-in one (or random statistics where there is no bank). Differences are in
0-255 levels. Without --decoder the shipped decoder is used; --random-decoder
takes a random one whose output is rescaled to spread over [0, 1]. The FP16
error depends on the weights, so the trained decoder gives the figure that counts.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stylecam.entry import entry_point
from stylecam.errors import UserError

EXAMPLES = """  python -m export.parity --photos ../shared/data/val/content --frame-size 1280x720
  python -m export.parity --photos DIR --decoder runs/mine/decoder.pt --json parity.json
"""


@dataclass(frozen=True)
class ParityOptions:
    photos: list[Path]
    size: tuple[int, int]             # (W, H)
    decoder: str | None
    random_decoder: bool
    json_out: Path | None
    overwrite: bool


def parse(argv: list[str] | None) -> ParityOptions:
    from stylecam.images import list_images
    from stylecam.options import frame_size, number, parser
    from stylecam.safeio import check_output_file
    p = parser("python -m export.parity", __doc__, EXAMPLES)
    p.add_argument("--photos", required=True, help="folder of photos")
    p.add_argument("--frame-size", type=frame_size, default="1280x720", metavar="WxH",
                   help="frame size the photos are cropped to (default 1280x720)")
    p.add_argument("--limit", type=number(1, integer=True), default=8, help="at most this many photos (default 8)")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--decoder", help="decoder weights (default: the shipped assets/decoder.pt)")
    weights.add_argument("--random-decoder", action="store_true",
                         help="a random decoder, its output rescaled to spread over [0, 1]")
    p.add_argument("--json", dest="json_out", help="also write the figures here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    a = p.parse_args(argv)
    photos = list_images(Path(a.photos))[: a.limit] if Path(a.photos).is_dir() else []
    if not photos:
        raise UserError(f"--photos {a.photos}: no photos there")
    if a.json_out:
        check_output_file(a.json_out, [], a.overwrite)
    return ParityOptions(photos, a.frame_size, a.decoder, a.random_decoder,
                         Path(a.json_out) if a.json_out else None, a.overwrite)


def run(opts: ParityOptions) -> int:
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    from stylecam.backends.torch_backend import TorchBackend
    from stylecam.convert import torch2onnx
    from stylecam.images import read_image
    from stylecam.loading import load_model
    from stylecam.quantize import fit_frame
    from stylecam.safeio import write_json
    from stylecam.styles import load_bank

    from .random_weights import random_full
    if opts.random_decoder:
        model, decoder = random_full(), "random (output rescaled to spread over [0, 1])"
    else:
        model, decoder = load_model(opts.decoder), opts.decoder or "shipped"
    w, h = opts.size
    bank = list(load_bank().values())
    with tempfile.TemporaryDirectory() as tmp:
        f32 = OnnxRuntimeBackend(torch2onnx(model, Path(tmp) / "f32.onnx", "fp32"))
        f16 = OnnxRuntimeBackend(torch2onnx(model, Path(tmp) / "f16.onnx", "fp16"))
        ref = TorchBackend(model, torch.device("cpu"))
        rows = []
        for i, f in enumerate(opts.photos):
            bgr = fit_frame(read_image(f), (w, h))
            style = bank[i % len(bank)] if bank else None
            mean, std = (style.mean, style.std) if style else (torch.rand(512), torch.rand(512) + 0.5)
            t0 = time.perf_counter()
            a32 = f32.stylize(bgr, mean, std)
            t1 = time.perf_counter()
            a16 = f16.stylize(bgr, mean, std)
            t2 = time.perf_counter()
            r = ref.stylize(bgr, mean, std)
            d16 = np.abs(a16.astype(np.int16) - a32)
            d32 = np.abs(a32.astype(np.int16) - r)
            rows.append({"photo": f.name, "style": style.name if style else "random",
                         "fp16_vs_fp32_max": int(d16.max()), "fp16_vs_fp32_mean": round(float(d16.mean()), 4),
                         "fp16_share_over_2": round(float((d16 > 2).mean()), 6),
                         "onnx_fp32_vs_torch_max": int(d32.max()),
                         "onnx_fp32_vs_torch_mean": round(float(d32.mean()), 5),
                         "fp32_s": round(t1 - t0, 2), "fp16_s": round(t2 - t1, 2)})
            print(json.dumps(rows[-1]), flush=True)
    summary = {"size": f"{w}x{h}", "decoder": decoder, "photos": len(rows),
               "fp16_vs_fp32_max": max(r["fp16_vs_fp32_max"] for r in rows),
               "fp16_vs_fp32_mean": round(float(np.mean([r["fp16_vs_fp32_mean"] for r in rows])), 4),
               "onnx_fp32_vs_torch_max": max(r["onnx_fp32_vs_torch_max"] for r in rows),
               "rows": rows}
    print(f"{len(rows)} photos at {w}x{h}: ONNX FP16 vs FP32 max {summary['fp16_vs_fp32_max']} levels, mean "
          f"{summary['fp16_vs_fp32_mean']}; ONNX FP32 vs PyTorch max {summary['onnx_fp32_vs_torch_max']}")
    if opts.json_out:
        write_json(opts.json_out, summary, opts.overwrite)
    return 0


@entry_point("export.parity")
def main(argv: list[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
