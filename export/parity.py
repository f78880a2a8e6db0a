"""python -m export.parity: FP16 ONNX graph vs FP32 graph vs PyTorch on real photos (ONNX Runtime, CPU).

    python -m export.parity --photos ../shared/data/val/content --size 1280x720
    python -m export.parity --photos DIR --decoder runs/mine/decoder.pt --json parity.json

Each photo is scaled to cover the size and centre-cropped; the style is a
built-in one (or the next photo). Differences are in 0-255 levels. Without
--decoder a random decoder rescaled to spread its output over [0, 1] is used
(the shipped one is not trained yet); the FP16 error depends on the weights,
so re-run it with the trained decoder.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch


def main(argv=None) -> int:
    from stylecam.errors import UserError
    p = argparse.ArgumentParser(prog="python -m export.parity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", required=True, help="folder of photos")
    p.add_argument("--size", default="1280x720", help="W×H (default 1280x720)")
    p.add_argument("--limit", type=int, default=8, help="at most this many photos (default 8)")
    p.add_argument("--decoder", help="decoder weights (default: random, rescaled)")
    p.add_argument("--json", help="write the figures here")
    a = p.parse_args(argv)
    try:
        return run(a)
    except UserError as e:
        print(f"export.parity: {e}", file=sys.stderr)
        return 2


def run(a) -> int:
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    from stylecam.backends.torch_backend import TorchBackend
    from stylecam.errors import UserError
    from stylecam.images import list_images, read_image
    from stylecam.loading import load_model
    from stylecam.styles import load_bank

    from stylecam.convert import torch2onnx
    from .gpu_bench import _cover, _spread
    w, h = (int(v) for v in a.size.lower().split("x"))
    files = list_images(Path(a.photos))[: a.limit] if Path(a.photos).is_dir() else []
    if not files:
        raise UserError(f"no photos in {a.photos}")
    if a.decoder:
        model, decoder = load_model(a.decoder), a.decoder
    else:
        from stylecam.model import Decoder, StyleTransfer
        from stylecam.vgg import load_encoder
        torch.manual_seed(0)
        model = StyleTransfer(load_encoder(), Decoder().eval().requires_grad_(False))
        _spread(model)
        decoder = "random (output rescaled to spread over [0, 1])"
    bank = list(load_bank().values())
    with tempfile.TemporaryDirectory() as tmp:
        f32 = OnnxRuntimeBackend(torch2onnx(model, Path(tmp) / "f32.onnx", "fp32"))
        f16 = OnnxRuntimeBackend(torch2onnx(model, Path(tmp) / "f16.onnx", "fp16"))
        ref = TorchBackend(model, torch.device("cpu"))
        rows = []
        for i, f in enumerate(files):
            bgr = _cover(cv2.cvtColor(read_image(f), cv2.COLOR_RGB2BGR), w, h)
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
    summary = {"size": a.size, "decoder": decoder, "photos": len(rows),
               "fp16_vs_fp32_max": max(r["fp16_vs_fp32_max"] for r in rows),
               "fp16_vs_fp32_mean": round(float(np.mean([r["fp16_vs_fp32_mean"] for r in rows])), 4),
               "onnx_fp32_vs_torch_max": max(r["onnx_fp32_vs_torch_max"] for r in rows),
               "rows": rows}
    print(f"{len(rows)} photos at {a.size}: ONNX FP16 vs FP32 max {summary['fp16_vs_fp32_max']} levels, mean "
          f"{summary['fp16_vs_fp32_mean']}; ONNX FP32 vs PyTorch max {summary['onnx_fp32_vs_torch_max']}")
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
