"""python -m export.int8_bench: the INT8 frame graph against the fp32 one on ONNX Runtime (CPU); prints JSON.

    python -m export.int8_bench --json int8.json
    python -m export.int8_bench --methods minmax --sizes 480x272 --repeats 5

For each calibration method an INT8 graph is built from the fp32 frame graph of
the decoder (the shipped one by default) with stylecam.quantize's calibration
(scikit-image photos, built-in styles). Parity: real photos (not the
calibration ones) scaled to cover --parity-size and centre-cropped, stylized at
α = 1 with styles outside the calibration set; differences to the fp32 graph in
0-255 levels (max, 99.9th percentile, mean). Speed: fp32 and INT8 timed in
alternation, so a busy machine slows both alike; the figure is the median.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stylecam.entry import entry_point

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "val"
PHOTOS = (f"{DATA}/content/chicago_skyline.jpg", f"{DATA}/content/golden_gate_bridge.jpg",
          f"{DATA}/content/kodak_kodim04_girl_red_hat.jpg", f"{DATA}/people/man_face_indoor_portrait.jpg")
STYLES = ("matisse_woman_with_a_hat", "turner_shipwreck_of_the_minotaur")


def parity(fp32, int8, photos, styles, size) -> dict:
    from stylecam.images import read_image
    from stylecam.quantize import fit_frame
    from stylecam.styles import load_bank
    bank = load_bank()
    diffs, rows = [], []
    for photo in photos:
        frame = fit_frame(read_image(photo), size)
        for name in styles:
            s = bank[name]
            a = fp32.stylize(frame, s.mean, s.std, 1.0).astype(np.int16)
            d = np.abs(int8.stylize(frame, s.mean, s.std, 1.0).astype(np.int16) - a)
            diffs.append(d)
            rows.append({"photo": Path(photo).name, "style": name, "max": int(d.max()),
                         "mean": round(float(d.mean()), 2)})
    d = np.stack(diffs)
    return {"max_levels": int(d.max()), "p999_levels": float(np.percentile(d, 99.9)),
            "mean_levels": round(float(d.mean()), 2), "worst_mean_levels": max(r["mean"] for r in rows),
            "per_image": rows}


def speed(backends: dict, sizes, repeats: int, warmup: int) -> list[dict]:
    from export.cpu_bench import timed
    from stylecam.styles import load_bank
    style = next(iter(load_bank().values()))
    return [{"size": r["size"], "fp32_fps": r["fp32"]["fps"], "int8_fps": r["int8"]["fps"],
             "speedup": round(r["int8"]["fps"] / r["fp32"]["fps"], 2)}
            for r in timed(backends, sizes, repeats, warmup, style)]


@entry_point("export.int8_bench")
def main(argv=None) -> int:
    from stylecam.options import OneLineErrorParser, frame_size, listed, number
    from stylecam.safeio import check_output_file, write_json
    p = OneLineErrorParser(prog="python -m export.int8_bench", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--decoder", help="decoder weights (default: the shipped assets/decoder.pt)")
    p.add_argument("--methods", type=listed(str), default="minmax,percentile,entropy", metavar="M,M,...",
                   help="calibration methods to compare")
    p.add_argument("--ops", type=listed(str), default=None, metavar="OP,OP,...",
                   help="ONNX op types to quantize (default: stylecam.quantize.QUANTIZED_OPS)")
    p.add_argument("--sizes", type=listed(frame_size), default="256x256,480x272,640x360", metavar="WxH,...",
                   help="frame sizes to time")
    p.add_argument("--repeats", type=number(1, integer=True), default=7,
                   help="timed calls per graph and size (default 7)")
    p.add_argument("--warmup", type=number(0, integer=True), default=2)
    p.add_argument("--photos", nargs="+", default=list(PHOTOS), help="parity photos (not the calibration ones)")
    p.add_argument("--styles", nargs="+", default=list(STYLES), help="built-in styles for parity")
    p.add_argument("--parity-size", type=frame_size, default="480x272", metavar="WxH",
                   help="size of the parity frames")
    p.add_argument("--json", metavar="FILE", help="also write the report here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    a = p.parse_args(argv)
    if a.json:
        check_output_file(a.json, [], a.overwrite)
    result = run(a)
    print(json.dumps(result, indent=2))
    if a.json:
        write_json(a.json, result, a.overwrite)
    return 0


def run(a) -> dict:
    import onnxruntime

    from stylecam.backends import cached_onnx
    from stylecam.backends.onnxruntime_backend import OnnxRuntimeBackend
    from stylecam.commands.bench import cpu_model
    from stylecam.loading import load_model
    from stylecam.quantize import (CALIBRATION_PHOTOS, CALIBRATION_STYLES, QUANTIZED_OPS, calibration_frames,
                                   onnx2int8)
    ops = list(a.ops) if a.ops else QUANTIZED_OPS
    load = [round(os.getloadavg()[0], 2)]
    fp32_path = cached_onnx(load_model(a.decoder), "fp32")
    fp32 = OnnxRuntimeBackend(fp32_path)
    feeds = calibration_frames()
    methods, int8 = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for method in a.methods:
            t0 = time.perf_counter()
            path = onnx2int8(fp32_path, Path(tmp) / f"int8-{method}.onnx", feeds, method, ops)
            built = time.perf_counter() - t0
            backend = OnnxRuntimeBackend(path)
            methods[method] = {"build_s": round(built, 1),
                               **parity(fp32, backend, a.photos, a.styles, a.parity_size)}
            print(f"{method}: built in {built:.0f} s, mean {methods[method]['mean_levels']} levels, "
                  f"max {methods[method]['max_levels']}", file=sys.stderr)
            int8 = int8 or backend             # speed does not depend on the ranges: time the first
        load.append(round(os.getloadavg()[0], 2))
        timed = speed({"fp32": fp32, "int8": int8}, a.sizes, a.repeats, a.warmup)
    load.append(round(os.getloadavg()[0], 2))
    return {"bench": "int8 vs fp32, ONNX Runtime CPU", "decoder": a.decoder or "shipped",
            "machine": f"{os.cpu_count()}-core {cpu_model()}", "onnxruntime": onnxruntime.__version__,
            "load_average_1min": load,
            "calibration": {"photos": list(CALIBRATION_PHOTOS), "styles": list(CALIBRATION_STYLES),
                            "frames": len(feeds), "quantized_ops": ops},
            "parity_styles": a.styles, "parity_size": "{}x{}".format(*a.parity_size), "methods": methods,
            "speed": {"method_timed": a.methods[0], "repeats": a.repeats, "results": timed}}


if __name__ == "__main__":
    sys.exit(main())
